//! The job file schema: which arguments and blocks each Nomad block takes, and the API JSON
//! name each one lands under (from the `hcl` tags of Nomad's `api` package), followed by the
//! normalisation `jobspec2` applies after decoding (job ID from the label, static ports
//! moved to `ReservedPorts`, template and vault defaults, ...).

use serde_json::{Map, Value};

use super::decode::{Labels, Reader};

/// The `job "name" { ... }` body.
pub(crate) fn job(r: &mut Reader<'_, '_, '_>) {
    r.string("region", "Region");
    r.string("namespace", "Namespace");
    r.string("id", "ID");
    r.string("name", "Name");
    r.string("type", "Type");
    r.int("priority", "Priority");
    r.bool("all_at_once", "AllAtOnce");
    r.strings("datacenters", "Datacenters");
    r.string("node_pool", "NodePool");
    r.blocks("constraint", "Constraints", Labels::None, constraint);
    r.blocks("affinity", "Affinities", Labels::None, affinity);
    r.blocks("group", "TaskGroups", Labels::One("Name"), group);
    r.block("update", "Update", update);
    r.block("multiregion", "Multiregion", multiregion);
    r.blocks("spread", "Spreads", Labels::None, spread);
    r.block("periodic", "Periodic", periodic);
    r.block("parameterized", "ParameterizedJob", parameterized);
    r.block("reschedule", "Reschedule", reschedule);
    r.block("migrate", "Migrate", migrate);
    r.string_map("meta", "Meta", true);
    r.block("ui", "UI", ui);
    // Job-level `vault` applies to every task without one; `task` outside a group gets a
    // group of its own. Both are moved into place by `normalize`.
    r.block("vault", "Vault", vault);
    r.blocks("task", "Tasks", Labels::One("Name"), task);
    r.blocks("secret", "Secrets", Labels::One("Name"), secret);
}

fn group(r: &mut Reader<'_, '_, '_>) {
    r.int("count", "Count");
    r.blocks("constraint", "Constraints", Labels::None, constraint);
    r.blocks("affinity", "Affinities", Labels::None, affinity);
    r.blocks("task", "Tasks", Labels::One("Name"), task);
    r.blocks("spread", "Spreads", Labels::None, spread);
    r.labeled_map("volume", "Volumes", "Name", volume);
    r.block("restart", "RestartPolicy", restart);
    r.block("disconnect", "Disconnect", disconnect);
    r.block("reschedule", "ReschedulePolicy", reschedule);
    r.block("ephemeral_disk", "EphemeralDisk", ephemeral_disk);
    r.block("update", "Update", update);
    r.block("migrate", "Migrate", migrate);
    r.blocks("network", "Networks", Labels::None, network);
    r.string_map("meta", "Meta", true);
    r.blocks("service", "Services", Labels::None, service);
    r.duration("shutdown_delay", "ShutdownDelay");
    r.duration("max_run_duration", "MaxRunDuration");
    r.duration("stop_after_client_disconnect", "StopAfterClientDisconnect");
    r.duration("max_client_disconnect", "MaxClientDisconnect");
    r.block("scaling", "Scaling", group_scaling);
    r.block("consul", "Consul", consul);
    r.bool("prevent_reschedule_on_lost", "PreventRescheduleOnLost");
    // A group `vault` block applies to the group's tasks that have none, and group
    // `secret` blocks to all its tasks (see `normalize`).
    r.block("vault", "Vault", vault);
    r.blocks("secret", "Secrets", Labels::One("Name"), secret);
}

fn task(r: &mut Reader<'_, '_, '_>) {
    r.string("driver", "Driver");
    r.string("user", "User");
    r.block("lifecycle", "Lifecycle", lifecycle);
    r.free_block("config", "Config");
    r.blocks("constraint", "Constraints", Labels::None, constraint);
    r.blocks("affinity", "Affinities", Labels::None, affinity);
    r.string_map("env", "Env", true);
    r.blocks("service", "Services", Labels::None, service);
    r.block("resources", "Resources", resources);
    r.block("restart", "RestartPolicy", restart);
    r.string_map("meta", "Meta", true);
    r.duration("kill_timeout", "KillTimeout");
    r.block("logs", "LogConfig", logs);
    r.blocks("artifact", "Artifacts", Labels::None, artifact);
    r.block("vault", "Vault", vault);
    r.block("consul", "Consul", consul);
    r.blocks("template", "Templates", Labels::None, template);
    r.block("dispatch_payload", "DispatchPayload", dispatch_payload);
    r.blocks("volume_mount", "VolumeMounts", Labels::None, volume_mount);
    r.block("csi_plugin", "CSIPluginConfig", csi_plugin);
    r.bool("leader", "Leader");
    r.duration("shutdown_delay", "ShutdownDelay");
    r.string("kill_signal", "KillSignal");
    r.string("kind", "Kind");
    r.blocks("scaling", "ScalingPolicies", Labels::One("Name"), task_scaling);
    r.blocks("secret", "Secrets", Labels::One("Name"), secret);
    r.blocks("identity", "Identities", Labels::None, identity);
    r.blocks("action", "Actions", Labels::One("Name"), action);
    r.block("schedule", "Schedule", schedule);
}

fn constraint(r: &mut Reader<'_, '_, '_>) {
    r.string("attribute", "LTarget");
    r.string("value", "RTarget");
    r.string("operator", "Operand");
    for shortcut in
        ["version", "semver", "regexp", "set_contains", "set_contains_all", "set_contains_any"]
    {
        shortcut_operator(r, shortcut);
    }
    for shortcut in ["attribute_is_set", "attribute_is_not_set"] {
        r.string(shortcut, "_shortcut");
        r.out.remove("_shortcut");
    }
    // `distinct_hosts = false` still sets the operator; the bool becomes the value.
    r.bool("distinct_hosts", "_distinct_hosts");
    if let Some(Value::Bool(b)) = r.out.remove("_distinct_hosts") {
        r.out.insert("Operand".into(), Value::String("distinct_hosts".into()));
        r.out.insert("RTarget".into(), Value::String(b.to_string()));
    }
    r.string("distinct_property", "_distinct_property");
    if let Some(property) = r.out.remove("_distinct_property") {
        r.out.insert("Operand".into(), Value::String("distinct_property".into()));
        r.out.insert("LTarget".into(), property);
    }
    default_operand(r);
}

fn affinity(r: &mut Reader<'_, '_, '_>) {
    r.string("attribute", "LTarget");
    r.string("value", "RTarget");
    r.string("operator", "Operand");
    r.int("weight", "Weight");
    for shortcut in
        ["version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains"]
    {
        shortcut_operator(r, shortcut);
    }
    default_operand(r);
}

/// `version = ">= 1.2"` is short for `operator = "version"` and `value = ">= 1.2"`.
fn shortcut_operator(r: &mut Reader<'_, '_, '_>, name: &'static str) {
    r.string(name, "_shortcut");
    if let Some(Value::String(value)) = r.out.remove("_shortcut") {
        if !value.is_empty() {
            r.out.insert("Operand".into(), Value::String(name.to_owned()));
            r.out.insert("RTarget".into(), Value::String(value));
        }
    }
}

fn default_operand(r: &mut Reader<'_, '_, '_>) {
    let empty = r.out.get("Operand").and_then(Value::as_str).is_none_or(str::is_empty);
    if empty {
        r.out.insert("Operand".into(), Value::String("=".into()));
    }
}

fn spread(r: &mut Reader<'_, '_, '_>) {
    r.string("attribute", "Attribute");
    r.int("weight", "Weight");
    r.blocks("target", "SpreadTarget", Labels::One("Value"), |r| r.int("percent", "Percent"));
}

fn update(r: &mut Reader<'_, '_, '_>) {
    r.duration("stagger", "Stagger");
    r.int("max_parallel", "MaxParallel");
    r.string("health_check", "HealthCheck");
    r.duration("min_healthy_time", "MinHealthyTime");
    r.duration("healthy_deadline", "HealthyDeadline");
    r.duration("progress_deadline", "ProgressDeadline");
    r.int("canary", "Canary");
    r.bool("auto_revert", "AutoRevert");
    r.bool("auto_promote", "AutoPromote");
}

fn migrate(r: &mut Reader<'_, '_, '_>) {
    r.int("max_parallel", "MaxParallel");
    r.string("health_check", "HealthCheck");
    r.duration("min_healthy_time", "MinHealthyTime");
    r.duration("healthy_deadline", "HealthyDeadline");
}

fn multiregion(r: &mut Reader<'_, '_, '_>) {
    r.block("strategy", "Strategy", |r| {
        r.int("max_parallel", "MaxParallel");
        r.string("on_failure", "OnFailure");
    });
    r.blocks("region", "Regions", Labels::One("Name"), |r| {
        r.int("count", "Count");
        r.strings("datacenters", "Datacenters");
        r.string("node_pool", "NodePool");
        r.string_map("meta", "Meta", false);
    });
}

fn periodic(r: &mut Reader<'_, '_, '_>) {
    r.bool("enabled", "Enabled");
    r.string("cron", "Spec");
    r.strings("crons", "Specs");
    r.bool("prohibit_overlap", "ProhibitOverlap");
    r.string("time_zone", "TimeZone");
    if r.out.contains_key("Spec") || r.out.contains_key("Specs") {
        r.out.insert("SpecType".into(), Value::String("cron".into()));
    }
}

fn parameterized(r: &mut Reader<'_, '_, '_>) {
    r.string("payload", "Payload");
    r.strings("meta_required", "MetaRequired");
    r.strings("meta_optional", "MetaOptional");
}

fn reschedule(r: &mut Reader<'_, '_, '_>) {
    r.int("attempts", "Attempts");
    r.duration("interval", "Interval");
    r.duration("delay", "Delay");
    r.string("delay_function", "DelayFunction");
    r.duration("max_delay", "MaxDelay");
    r.bool("unlimited", "Unlimited");
}

fn restart(r: &mut Reader<'_, '_, '_>) {
    r.duration("interval", "Interval");
    r.int("attempts", "Attempts");
    r.duration("delay", "Delay");
    r.string("mode", "Mode");
    r.bool("render_templates", "RenderTemplates");
}

fn disconnect(r: &mut Reader<'_, '_, '_>) {
    r.duration("lost_after", "LostAfter");
    r.duration("stop_on_client_after", "StopOnClientAfter");
    r.bool("replace", "Replace");
    r.string("reconcile", "Reconcile");
}

fn ephemeral_disk(r: &mut Reader<'_, '_, '_>) {
    r.bool("sticky", "Sticky");
    r.bool("migrate", "Migrate");
    r.int("size", "SizeMB");
}

fn ui(r: &mut Reader<'_, '_, '_>) {
    r.string("description", "Description");
    r.blocks("link", "Links", Labels::None, |r| {
        r.string("label", "Label");
        r.string("url", "URL");
    });
}

fn volume(r: &mut Reader<'_, '_, '_>) {
    r.string("type", "Type");
    r.string("source", "Source");
    r.bool("read_only", "ReadOnly");
    r.bool("sticky", "Sticky");
    r.string("access_mode", "AccessMode");
    r.string("attachment_mode", "AttachmentMode");
    r.block("mount_options", "MountOptions", mount_options);
    r.bool("per_alloc", "PerAlloc");
}

fn mount_options(r: &mut Reader<'_, '_, '_>) {
    r.string("fs_type", "FSType");
    r.strings("mount_flags", "MountFlags");
}

fn network(r: &mut Reader<'_, '_, '_>) {
    r.string("mode", "Mode");
    r.string("device", "Device");
    r.string("cidr", "CIDR");
    r.string("ip", "IP");
    r.block("dns", "DNS", |r| {
        r.strings("servers", "Servers");
        r.strings("searches", "Searches");
        r.strings("options", "Options");
    });
    r.blocks("reserved_ports", "ReservedPorts", Labels::One("Label"), port);
    r.blocks("port", "DynamicPorts", Labels::One("Label"), port);
    r.string("hostname", "Hostname");
    r.int("mbits", "MBits");
    r.block("cni", "CNI", |r| r.string_map("args", "Args", true));
}

fn port(r: &mut Reader<'_, '_, '_>) {
    r.int("static", "Value");
    r.int("to", "To");
    r.string("host_network", "HostNetwork");
    r.bool("ignore_collision", "IgnoreCollision");
}

fn service(r: &mut Reader<'_, '_, '_>) {
    r.string("name", "Name");
    r.strings("tags", "Tags");
    r.strings("canary_tags", "CanaryTags");
    r.bool("enable_tag_override", "EnableTagOverride");
    r.string("port", "PortLabel");
    r.string("address_mode", "AddressMode");
    r.string("address", "Address");
    r.blocks("check", "Checks", Labels::None, check);
    r.block("check_restart", "CheckRestart", check_restart);
    r.block("connect", "Connect", connect);
    r.string_map("meta", "Meta", true);
    r.string_map("canary_meta", "CanaryMeta", true);
    r.string_map("tagged_addresses", "TaggedAddresses", true);
    r.string("task", "TaskName");
    r.string("on_update", "OnUpdate");
    r.block("identity", "Identity", identity);
    r.block("weights", "Weights", |r| {
        r.int("passing", "Passing");
        r.int("warning", "Warning");
    });
    r.string("provider", "Provider");
    r.string("cluster", "Cluster");
    r.string("kind", "Kind");
}

fn check(r: &mut Reader<'_, '_, '_>) {
    r.string("name", "Name");
    r.string("type", "Type");
    r.string("command", "Command");
    r.strings("args", "Args");
    r.string("path", "Path");
    r.string("protocol", "Protocol");
    r.string("port", "PortLabel");
    r.bool("expose", "Expose");
    r.string("address_mode", "AddressMode");
    r.string("advertise", "Advertise");
    r.duration("interval", "Interval");
    r.duration("timeout", "Timeout");
    r.string("initial_status", "InitialStatus");
    r.string("notes", "Notes");
    r.string("tls_server_name", "TLSServerName");
    r.bool("tls_skip_verify", "TLSSkipVerify");
    r.string_lists_map("header", "Header");
    r.string("method", "Method");
    r.block("check_restart", "CheckRestart", check_restart);
    r.string("grpc_service", "GRPCService");
    r.bool("grpc_use_tls", "GRPCUseTLS");
    r.string("task", "TaskName");
    r.int("success_before_passing", "SuccessBeforePassing");
    r.int("failures_before_critical", "FailuresBeforeCritical");
    r.int("failures_before_warning", "FailuresBeforeWarning");
    r.string("body", "Body");
    r.string("on_update", "OnUpdate");
}

fn check_restart(r: &mut Reader<'_, '_, '_>) {
    r.int("limit", "Limit");
    r.duration("grace", "Grace");
    r.bool("ignore_warnings", "IgnoreWarnings");
}

fn connect(r: &mut Reader<'_, '_, '_>) {
    r.bool("native", "Native");
    r.block("gateway", "Gateway", gateway);
    r.block("sidecar_service", "SidecarService", |r| {
        r.strings("tags", "Tags");
        r.string("port", "Port");
        r.block("proxy", "Proxy", proxy);
        r.bool("disable_default_tcp_check", "DisableDefaultTCPCheck");
        r.string_map("meta", "Meta", true);
    });
    r.block("sidecar_task", "SidecarTask", sidecar_task);
}

fn sidecar_task(r: &mut Reader<'_, '_, '_>) {
    r.string("name", "Name");
    r.string("driver", "Driver");
    r.string("user", "User");
    r.free_block("config", "Config");
    r.string_map("env", "Env", true);
    r.block("resources", "Resources", resources);
    r.string_map("meta", "Meta", true);
    r.duration("kill_timeout", "KillTimeout");
    r.block("logs", "LogConfig", logs);
    r.duration("shutdown_delay", "ShutdownDelay");
    r.string("kill_signal", "KillSignal");
    r.blocks("volume_mount", "VolumeMounts", Labels::None, volume_mount);
    r.blocks("identity", "Identities", Labels::None, identity);
}

fn proxy(r: &mut Reader<'_, '_, '_>) {
    r.string("local_service_address", "LocalServiceAddress");
    r.int("local_service_port", "LocalServicePort");
    r.block("expose", "Expose", |r| {
        r.blocks("path", "Paths", Labels::None, |r| {
            r.string("path", "Path");
            r.string("protocol", "Protocol");
            r.int("local_path_port", "LocalPathPort");
            r.string("listener_port", "ListenerPort");
        });
    });
    r.blocks("upstreams", "Upstreams", Labels::None, upstream);
    r.block("transparent_proxy", "TransparentProxy", |r| {
        r.string("uid", "UID");
        r.int("outbound_port", "OutboundPort");
        r.strings("exclude_inbound_ports", "ExcludeInboundPorts");
        r.ints("exclude_outbound_ports", "ExcludeOutboundPorts");
        r.strings("exclude_outbound_cidrs", "ExcludeOutboundCIDRs");
        r.strings("exclude_uids", "ExcludeUIDs");
        r.bool("no_dns", "NoDNS");
    });
    r.free_block("config", "Config");
}

fn upstream(r: &mut Reader<'_, '_, '_>) {
    r.string("destination_name", "DestinationName");
    r.string("destination_namespace", "DestinationNamespace");
    r.string("destination_peer", "DestinationPeer");
    r.string("destination_partition", "DestinationPartition");
    r.string("destination_type", "DestinationType");
    r.int("local_bind_port", "LocalBindPort");
    r.string("datacenter", "Datacenter");
    r.string("local_bind_address", "LocalBindAddress");
    r.string("local_bind_socket_path", "LocalBindSocketPath");
    r.string("local_bind_socket_mode", "LocalBindSocketMode");
    r.block("mesh_gateway", "MeshGateway", |r| r.string("mode", "Mode"));
    r.free_block("config", "Config");
}

fn gateway(r: &mut Reader<'_, '_, '_>) {
    r.block("proxy", "Proxy", |r| {
        r.duration("connect_timeout", "ConnectTimeout");
        r.bool("envoy_gateway_bind_tagged_addresses", "EnvoyGatewayBindTaggedAddresses");
        r.labeled_map("envoy_gateway_bind_addresses", "EnvoyGatewayBindAddresses", "Name", |r| {
            r.string("address", "Address");
            r.int("port", "Port");
        });
        r.bool("envoy_gateway_no_default_bind", "EnvoyGatewayNoDefaultBind");
        r.string("envoy_dns_discovery_type", "EnvoyDNSDiscoveryType");
        r.free_block("config", "Config");
    });
    r.block("ingress", "Ingress", |r| {
        r.block("tls", "TLS", gateway_tls);
        r.blocks("listener", "Listeners", Labels::None, |r| {
            r.int("port", "Port");
            r.string("protocol", "Protocol");
            r.blocks("service", "Services", Labels::None, |r| {
                r.string("name", "Name");
                r.strings("hosts", "Hosts");
                r.block("tls", "TLS", gateway_tls);
                r.block("request_headers", "RequestHeaders", header_modifiers);
                r.block("response_headers", "ResponseHeaders", header_modifiers);
                r.int("max_connections", "MaxConnections");
                r.int("max_pending_requests", "MaxPendingRequests");
                r.int("max_concurrent_requests", "MaxConcurrentRequests");
            });
        });
    });
    r.block("terminating", "Terminating", |r| {
        r.blocks("service", "Services", Labels::None, |r| {
            r.string("name", "Name");
            r.string("ca_file", "CAFile");
            r.string("cert_file", "CertFile");
            r.string("key_file", "KeyFile");
            r.string("sni", "SNI");
        });
    });
    r.block("mesh", "Mesh", |_| {});
}

fn gateway_tls(r: &mut Reader<'_, '_, '_>) {
    r.bool("enabled", "Enabled");
    r.string("tls_min_version", "TLSMinVersion");
    r.string("tls_max_version", "TLSMaxVersion");
    r.strings("cipher_suites", "CipherSuites");
    r.block("sds", "SDS", |r| {
        r.string("cluster_name", "ClusterName");
        r.string("cert_resource", "CertResource");
    });
}

fn header_modifiers(r: &mut Reader<'_, '_, '_>) {
    r.string_map("add", "Add", false);
    r.string_map("set", "Set", false);
    r.strings("remove", "Remove");
}

fn resources(r: &mut Reader<'_, '_, '_>) {
    r.int("cpu", "CPU");
    r.int("cores", "Cores");
    r.int("memory", "MemoryMB");
    r.int("memory_max", "MemoryMaxMB");
    r.int("disk", "DiskMB");
    r.blocks("network", "Networks", Labels::None, network);
    r.blocks("device", "Devices", Labels::One("Name"), |r| {
        r.int("count", "Count");
        r.blocks("constraint", "Constraints", Labels::None, constraint);
        r.blocks("affinity", "Affinities", Labels::None, affinity);
    });
    r.block("numa", "NUMA", |r| {
        r.string("affinity", "Affinity");
        r.strings("devices", "Devices");
    });
    r.int("secrets", "SecretsMB");
    r.int("iops", "IOPS");
}

fn logs(r: &mut Reader<'_, '_, '_>) {
    r.int("max_files", "MaxFiles");
    r.int("max_file_size", "MaxFileSizeMB");
    r.bool("enabled", "Enabled");
    r.bool("disabled", "Disabled");
}

fn artifact(r: &mut Reader<'_, '_, '_>) {
    r.string("source", "GetterSource");
    r.string_map("options", "GetterOptions", true);
    r.string_map("headers", "GetterHeaders", true);
    r.string("mode", "GetterMode");
    r.bool("insecure", "GetterInsecure");
    r.string("destination", "RelativeDest");
    r.bool("chown", "Chown");
}

fn vault(r: &mut Reader<'_, '_, '_>) {
    r.strings("policies", "Policies");
    r.string("role", "Role");
    r.string("namespace", "Namespace");
    r.string("cluster", "Cluster");
    r.bool("env", "Env");
    r.bool("disable_file", "DisableFile");
    r.string("change_mode", "ChangeMode");
    r.string("change_signal", "ChangeSignal");
    r.bool("allow_token_expiration", "AllowTokenExpiration");
}

fn consul(r: &mut Reader<'_, '_, '_>) {
    r.string("namespace", "Namespace");
    r.string("cluster", "Cluster");
    r.string("partition", "Partition");
}

fn template(r: &mut Reader<'_, '_, '_>) {
    r.string("source", "SourcePath");
    r.string("destination", "DestPath");
    r.string("data", "EmbeddedTmpl");
    r.string("change_mode", "ChangeMode");
    r.block("change_script", "ChangeScript", |r| {
        r.string("command", "Command");
        r.strings("args", "Args");
        r.duration("timeout", "Timeout");
        r.bool("fail_on_error", "FailOnError");
        r.bool("run_on_first_render", "RunOnFirstRender");
    });
    r.string("change_signal", "ChangeSignal");
    r.bool("once", "Once");
    r.duration("splay", "Splay");
    r.string("perms", "Perms");
    r.int("uid", "Uid");
    r.int("gid", "Gid");
    r.string("left_delimiter", "LeftDelim");
    r.string("right_delimiter", "RightDelim");
    r.bool("env", "Envvars");
    r.duration("vault_grace", "VaultGrace");
    r.block("wait", "Wait", |r| {
        r.duration("min", "Min");
        r.duration("max", "Max");
    });
    r.bool("error_on_missing_key", "ErrMissingKey");
}

fn dispatch_payload(r: &mut Reader<'_, '_, '_>) {
    r.string("file", "File");
}

fn volume_mount(r: &mut Reader<'_, '_, '_>) {
    r.string("volume", "Volume");
    r.string("destination", "Destination");
    r.bool("read_only", "ReadOnly");
    r.string("propagation_mode", "PropagationMode");
    r.string("selinux_label", "SELinuxLabel");
}

fn csi_plugin(r: &mut Reader<'_, '_, '_>) {
    r.string("id", "ID");
    r.string("type", "Type");
    r.string("mount_dir", "MountDir");
    r.string("stage_publish_base_dir", "StagePublishBaseDir");
    r.duration("health_timeout", "HealthTimeout");
}

fn lifecycle(r: &mut Reader<'_, '_, '_>) {
    r.string("hook", "Hook");
    r.bool("sidecar", "Sidecar");
}

fn scaling_policy(r: &mut Reader<'_, '_, '_>) {
    r.int("min", "Min");
    r.int("max", "Max");
    r.free_block("policy", "Policy");
    r.bool("enabled", "Enabled");
    r.string("type", "Type");
}

fn group_scaling(r: &mut Reader<'_, '_, '_>) {
    scaling_policy(r);
    if !r.out.contains_key("Type") {
        r.out.insert("Type".into(), Value::String("horizontal".into()));
    }
}

/// Task `scaling "cpu"` / `scaling "mem"`: vertical policies named by their label.
fn task_scaling(r: &mut Reader<'_, '_, '_>) {
    scaling_policy(r);
    let label = r.out.remove("Name").and_then(|v| v.as_str().map(str::to_lowercase));
    let kind = match label.as_deref() {
        Some("cpu") => "vertical_cpu",
        Some("mem") => "vertical_mem",
        other => {
            let span = r.d.spans.get(&r.path).cloned().unwrap_or(0..0);
            r.d.error(
                span,
                format!(
                    "a task scaling block is named \"cpu\" or \"mem\", not {:?}",
                    other.unwrap_or("")
                ),
            );
            return;
        }
    };
    if !r.out.contains_key("Type") {
        r.out.insert("Type".into(), Value::String(kind.into()));
    }
}

fn secret(r: &mut Reader<'_, '_, '_>) {
    r.string("provider", "Provider");
    r.string("path", "Path");
    r.free_block("config", "Config");
    r.string_map("env", "Env", true);
}

fn identity(r: &mut Reader<'_, '_, '_>) {
    r.string("name", "Name");
    r.strings("aud", "Audience");
    r.string("change_mode", "ChangeMode");
    r.string("change_signal", "ChangeSignal");
    r.bool("env", "Env");
    r.bool("file", "File");
    r.string("filepath", "Filepath");
    r.string("service_name", "ServiceName");
    r.duration("ttl", "TTL");
    r.strings("extra_claims", "ExtraClaims");
}

fn action(r: &mut Reader<'_, '_, '_>) {
    r.string("command", "Command");
    r.strings("args", "Args");
}

fn schedule(r: &mut Reader<'_, '_, '_>) {
    r.block("cron", "Cron", |r| {
        r.string("start", "Start");
        r.string("end", "End");
        r.string("timezone", "Timezone");
    });
}

/// What `jobspec2` does after decoding, so the JSON matches `nomad job run -output`.
pub(crate) fn normalize(job: &mut Map<String, Value>, job_id: &str) {
    // `ID` and `Name` lead, as in Nomad's output; they default to the block's label.
    let mut ordered = Map::new();
    for key in ["ID", "Name"] {
        let value = job.remove(key).unwrap_or_else(|| Value::String(job_id.to_owned()));
        ordered.insert(key.to_owned(), value);
    }
    ordered.append(job);
    *job = ordered;
    let job_vault = job.remove("Vault").map(normalize_vault);
    let job_secrets = job.remove("Secrets");
    if let Some(Value::Array(tasks)) = job.remove("Tasks") {
        let alone: Vec<Value> = tasks
            .into_iter()
            .map(|task| {
                let mut group = Map::new();
                group.insert("Name".into(), task.get("Name").cloned().unwrap_or(Value::Null));
                group.insert("Tasks".into(), Value::Array(vec![task]));
                Value::Object(group)
            })
            .collect();
        match job.get_mut("TaskGroups") {
            Some(Value::Array(groups)) => {
                groups.splice(0..0, alone);
            }
            _ => {
                job.insert("TaskGroups".into(), Value::Array(alone));
            }
        }
    }
    let Some(Value::Array(groups)) = job.get_mut("TaskGroups") else { return };
    for group in groups.iter_mut().filter_map(Value::as_object_mut) {
        let group_vault = group.remove("Vault").map(normalize_vault);
        let group_secrets = group.remove("Secrets");
        normalize_networks(group.get_mut("Networks"));
        let Some(Value::Array(tasks)) = group.get_mut("Tasks") else { continue };
        for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Object(resources)) = task.get_mut("Resources") {
                normalize_networks(resources.get_mut("Networks"));
            }
            if let Some(Value::Array(templates)) = task.get_mut("Templates") {
                for template in templates.iter_mut().filter_map(Value::as_object_mut) {
                    normalize_template(template);
                }
            }
            match task.get_mut("Vault") {
                Some(vault) => *vault = normalize_vault(vault.take()),
                None => {
                    if let Some(vault) = group_vault.clone().or_else(|| job_vault.clone()) {
                        task.insert("Vault".into(), vault);
                    }
                }
            }
            for shared in [&group_secrets, &job_secrets] {
                if let Some(Value::Array(shared)) = shared {
                    let own = task.entry("Secrets").or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(own) = own {
                        own.extend(shared.iter().cloned());
                    }
                }
            }
            move_default_identity(task);
        }
    }
}

fn normalize_vault(mut vault: Value) -> Value {
    if let Some(v) = vault.as_object_mut() {
        v.entry("Env").or_insert(Value::Bool(true));
        v.entry("DisableFile").or_insert(Value::Bool(false));
        v.entry("ChangeMode").or_insert_with(|| Value::String("restart".into()));
    }
    vault
}

/// `port "x" { static = 80 }` is a reserved port; the rest stay dynamic.
fn normalize_networks(networks: Option<&mut Value>) {
    let Some(Value::Array(networks)) = networks else { return };
    for network in networks.iter_mut().filter_map(Value::as_object_mut) {
        let Some(Value::Array(ports)) = network.remove("DynamicPorts") else { continue };
        let (reserved, dynamic): (Vec<Value>, Vec<Value>) = ports
            .into_iter()
            .partition(|p| p.get("Value").and_then(Value::as_i64).unwrap_or(0) > 0);
        if !dynamic.is_empty() {
            network.insert("DynamicPorts".into(), Value::Array(dynamic));
        }
        if !reserved.is_empty() {
            let mut all = match network.remove("ReservedPorts") {
                Some(Value::Array(existing)) => existing,
                _ => Vec::new(),
            };
            all.extend(reserved);
            network.insert("ReservedPorts".into(), Value::Array(all));
        }
    }
}

fn normalize_template(template: &mut Map<String, Value>) {
    template.entry("ChangeMode").or_insert_with(|| Value::String("restart".into()));
    template.entry("Perms").or_insert_with(|| Value::String("0644".into()));
    template.entry("Splay").or_insert(Value::from(5_000_000_000_i64));
    template.entry("ErrMissingKey").or_insert(Value::Bool(false));
}

/// Nomad moves the default workload identity (no name or `default`) to `Task.Identity`.
fn move_default_identity(task: &mut Map<String, Value>) {
    let Some(Value::Array(identities)) = task.get_mut("Identities") else { return };
    let position = identities.iter().position(|id| {
        matches!(id.get("Name").and_then(Value::as_str), None | Some("") | Some("default"))
    });
    if let Some(i) = position {
        let identity = identities.remove(i);
        if identities.is_empty() {
            task.remove("Identities");
        }
        task.insert("Identity".into(), identity);
    }
}
