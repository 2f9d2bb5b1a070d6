//! HCL2 job files → Nomad's API JSON (what `nomad job run -output` prints).
