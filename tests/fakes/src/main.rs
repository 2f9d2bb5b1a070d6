//! `fakes`: start one of the fakes by hand.

fn main() {
    eprintln!("no fake is available in this build yet");
    std::process::exit(2);
}
