//! `riptide-control`: the control-plane server. Provisioning (Homestead-prov),
//! the HSS cache (Homestead) and the XDMS (Homer) over SQLite or PostgreSQL.

fn main() -> std::process::ExitCode {
    control_plane::server::main_with_args(std::env::args_os())
}
