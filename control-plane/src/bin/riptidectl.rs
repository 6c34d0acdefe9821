//! `riptidectl`: the operator's command line for riptide-control
//! (Clearwater's create_user / delete_user / display_user / list_users /
//! bulk_create tools, over the same HTTP APIs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use control_plane::ctl::{self, Ctl, CtlError, NewUser};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(name = "riptidectl", version, about)]
struct Args {
    /// riptide-control's provisioning API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8889",
        env = "RIPTIDE_SERVER"
    )]
    server: String,
    /// riptide-control's XDMS, for the simservs document Ellis wrote for each line.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:7888",
        env = "RIPTIDE_XDMS"
    )]
    xdms: String,
    /// Do not touch simservs documents.
    #[arg(long, global = true)]
    no_simservs: bool,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create lines sip:<DN>@<domain> with IMPI <DN>@<domain> (a DN or a range like 6505550000..6505550099).
    CreateUser {
        dns: String,
        domain: String,
        password: String,
        /// iFC document (<ServiceProfile>); default: INVITEs to sip:mmtel.<domain>.
        #[arg(long)]
        ifc: Option<PathBuf>,
        /// Keep the plaintext password (Homestead-prov's plaintext_password).
        #[arg(long)]
        store_plaintext: bool,
        /// Digest algorithms the users may use, e.g. SHA-256,MD5 (default: MD5 only for new users; unchanged on update).
        #[arg(long, value_delimiter = ',')]
        digest_algorithms: Vec<String>,
    },
    /// Change lines' password and/or iFCs.
    UpdateUser {
        dns: String,
        domain: String,
        #[arg(long)]
        password: Option<String>,
        /// iFC document (<ServiceProfile>) replacing the line's.
        #[arg(long)]
        ifc: Option<PathBuf>,
        #[arg(long)]
        store_plaintext: bool,
        /// Digest algorithms the users may use, e.g. SHA-256,MD5 (default: MD5 only for new users; unchanged on update).
        #[arg(long, value_delimiter = ',')]
        digest_algorithms: Vec<String>,
    },
    /// Delete lines (their IRS, identities, simservs, and IMPIs left unused).
    DeleteUser { dns: String, domain: String },
    /// Show a line.
    DisplayUser { dn: String, domain: String },
    /// List every public identity, a page at a time.
    ListUsers,
    /// Create users from a CSV: public id[,private id[,realm[,password]]].
    BulkCreate {
        file: PathBuf,
        /// iFC document given to every user.
        #[arg(long)]
        ifc: Option<PathBuf>,
        /// Where to write impu,impi,realm,password of every row (default <file>.created.csv).
        #[arg(long)]
        output: Option<PathBuf>,
        #[arg(long)]
        store_plaintext: bool,
        /// Digest algorithms the users may use, e.g. SHA-256,MD5 (default: MD5 only for new users; unchanged on update).
        #[arg(long, value_delimiter = ',')]
        digest_algorithms: Vec<String>,
    },
    /// Check that riptide-control answers.
    Health,
    /// Clearwater's configuration files held by riptide-control.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print one file, or every stored file.
    Show { name: Option<String> },
    /// Upload a file (checked first: unknown or malformed keys are refused with file, line and key).
    Upload {
        file: PathBuf,
        /// The file's name on the server (default: the file's own name).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `--digest-algorithms`: None when not given.
fn algorithms(names: &[String]) -> Result<Option<control_plane::digest::Algorithms>, CtlError> {
    if names.is_empty() {
        return Ok(None);
    }
    control_plane::digest::Algorithms::parse(names)
        .map(Some)
        .map_err(CtlError::Input)
}

fn read(path: &PathBuf) -> Result<String, CtlError> {
    std::fs::read_to_string(path).map_err(|error| CtlError::Io {
        path: path.display().to_string(),
        error,
    })
}

/// What an update or delete over a range did: JSON `{<key>: [...],
/// "not_found": [...]}` or one line per user; an error when any was missing.
fn report_changed(
    out: &mut impl Write,
    json: bool,
    (key, verb): (&str, &str),
    changed: &[String],
    missing: &[String],
) -> Result<(), CtlError> {
    let io = |e: std::io::Error| CtlError::Io {
        path: "stdout".into(),
        error: e,
    };
    if json {
        writeln!(out, "{}", json!({ key: changed, "not_found": missing })).map_err(io)?;
    } else {
        for u in changed {
            writeln!(out, "{verb} {u}").map_err(io)?;
        }
        for u in missing {
            writeln!(out, "No such user {u}").map_err(io)?;
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CtlError::Input(format!(
            "{} user(s) not found",
            missing.len()
        )))
    }
}

fn impu_of(dn: &str, domain: &str) -> String {
    if dn.contains(':') {
        dn.to_owned()
    } else {
        format!("sip:{dn}@{domain}")
    }
}

async fn run(args: Args) -> Result<(), CtlError> {
    let xdms = (!args.no_simservs).then_some(args.xdms.as_str());
    let mut ctl = Ctl::new(&args.server, xdms)?;
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| CtlError::Io {
        path: "stdout".into(),
        error: e,
    };
    match args.command {
        Command::CreateUser {
            dns,
            domain,
            password,
            ifc,
            store_plaintext,
            digest_algorithms,
        } => {
            ctl.digest_algorithms = algorithms(&digest_algorithms)?;
            let ifc = match ifc {
                Some(p) => read(&p)?,
                None => ctl::default_ifc(&domain),
            };
            let users = ctl::expand_dns(&dns)?
                .iter()
                .map(|dn| {
                    NewUser::from_parts(&impu_of(dn, &domain), None, Some(&domain), Some(&password))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ctl.create_users(&users, Some(&ifc), store_plaintext)
                .await?;
            if args.json {
                let list: Vec<&str> = users.iter().map(|u| u.impu.as_str()).collect();
                writeln!(out, "{}", json!({ "created": list })).map_err(io)?;
            } else {
                for u in &users {
                    writeln!(out, "Created {} (private id {})", u.impu, u.impi).map_err(io)?;
                }
            }
        }
        Command::UpdateUser {
            dns,
            domain,
            password,
            ifc,
            store_plaintext,
            digest_algorithms,
        } => {
            if password.is_none() && ifc.is_none() {
                return Err(CtlError::Input(
                    "nothing to update: give --password and/or --ifc".into(),
                ));
            }
            ctl.digest_algorithms = algorithms(&digest_algorithms)?;
            if ctl.digest_algorithms.is_some() && password.is_none() {
                return Err(CtlError::Input(
                    "--digest-algorithms needs --password (the HA1s are computed from it)".into(),
                ));
            }
            let ifc = ifc.as_ref().map(read).transpose()?;
            let mut updated = Vec::new();
            let mut missing = Vec::new();
            for dn in ctl::expand_dns(&dns)? {
                let impu = impu_of(&dn, &domain);
                if ctl
                    .update_user(&impu, password.as_deref(), ifc.as_deref(), store_plaintext)
                    .await?
                {
                    updated.push(impu);
                } else {
                    missing.push(impu);
                }
            }
            report_changed(
                &mut out,
                args.json,
                ("updated", "Updated"),
                &updated,
                &missing,
            )?;
        }
        Command::DeleteUser { dns, domain } => {
            let mut deleted = Vec::new();
            let mut missing = Vec::new();
            for dn in ctl::expand_dns(&dns)? {
                let impu = impu_of(&dn, &domain);
                if ctl.delete_user(&impu).await? {
                    deleted.push(impu);
                } else {
                    missing.push(impu);
                }
            }
            report_changed(
                &mut out,
                args.json,
                ("deleted", "Deleted"),
                &deleted,
                &missing,
            )?;
        }
        Command::DisplayUser { dn, domain } => {
            let impu = impu_of(&dn, &domain);
            let Some(v) = ctl.display_user(&impu).await? else {
                return Err(CtlError::Input(format!("no such user {impu}")));
            };
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&v).unwrap_or_default()).map_err(io)?;
            } else {
                writeln!(out, "Public identity: {}", v.impu).map_err(io)?;
                writeln!(out, "IRS:             {}", v.irs).map_err(io)?;
                writeln!(out, "Service profile: {}", v.service_profile).map_err(io)?;
                writeln!(out, "IRS identities:  {}", v.public_ids.join(", ")).map_err(io)?;
                for p in &v.private_ids {
                    writeln!(
                        out,
                        "Private identity: {} realm {} HA1 {}{}",
                        p["private_id"].as_str().unwrap_or_default(),
                        p["realm"].as_str().unwrap_or("-"),
                        p["digest_ha1"].as_str().unwrap_or("-"),
                        p["plaintext_password"]
                            .as_str()
                            .map(|pw| format!(" password {pw}"))
                            .unwrap_or_default()
                    )
                    .map_err(io)?;
                }
                writeln!(out, "{}", v.ims_subscription).map_err(io)?;
            }
        }
        Command::ListUsers => {
            let mut start = 0;
            let mut all = Vec::new();
            loop {
                let page = ctl.list_page(start, ctl::LIST_PAGE).await?;
                let n = page.len() as u64;
                if args.json {
                    all.extend(page);
                } else {
                    for u in page {
                        writeln!(out, "{u}").map_err(io)?;
                    }
                }
                if n < ctl::LIST_PAGE {
                    break;
                }
                start += n;
            }
            if args.json {
                writeln!(out, "{}", json!(all)).map_err(io)?;
            }
        }
        Command::BulkCreate {
            file,
            ifc,
            output,
            store_plaintext,
            digest_algorithms,
        } => {
            ctl.digest_algorithms = algorithms(&digest_algorithms)?;
            let users = ctl::parse_csv(&read(&file)?)?;
            let ifc = ifc.as_ref().map(read).transpose()?;
            let output = output.unwrap_or_else(|| {
                let mut p = file.clone().into_os_string();
                p.push(".created.csv");
                PathBuf::from(p)
            });
            let mut csv = String::with_capacity(users.len() * 96);
            for u in &users {
                csv.push_str(&format!(
                    "{},{},{},{}\n",
                    u.impu, u.impi, u.realm, u.password
                ));
            }
            std::fs::write(&output, csv).map_err(|error| CtlError::Io {
                path: output.display().to_string(),
                error,
            })?;
            let total = users.len();
            let human = !args.json;
            let summary = ctl
                .bulk_create(&users, ifc.as_deref(), store_plaintext, |done| {
                    if human {
                        let width = 40usize;
                        let filled = (done as usize * width).checked_div(total).unwrap_or(width);
                        eprint!(
                            "\r[{}{}] {done}/{total}",
                            "#".repeat(filled),
                            " ".repeat(width.saturating_sub(filled))
                        );
                    }
                })
                .await?;
            if args.json {
                writeln!(
                    out,
                    "{}",
                    json!({ "summary": summary, "output": output.display().to_string() })
                )
                .map_err(io)?;
            } else {
                eprintln!();
                writeln!(
                    out,
                    "{} users: {} created, {} already existed, in {:.1} s ({:.0} users/s); passwords in {}",
                    summary.requested,
                    summary.created,
                    summary.existing,
                    summary.seconds,
                    summary.users_per_second,
                    output.display()
                )
                .map_err(io)?;
            }
        }
        Command::Config(ConfigCommand::Show { name }) => {
            let names = match name {
                Some(n) => vec![n],
                None => ctl.config_names().await?,
            };
            let mut files = serde_json::Map::new();
            for n in &names {
                let Some(text) = ctl.config_get(n).await? else {
                    return Err(CtlError::Input(format!("{n} is not set")));
                };
                if args.json {
                    files.insert(n.clone(), json!(text));
                } else {
                    writeln!(out, "==> {n} <==\n{text}").map_err(io)?;
                }
            }
            if args.json {
                writeln!(out, "{}", serde_json::Value::Object(files)).map_err(io)?;
            }
        }
        Command::Config(ConfigCommand::Upload { file, name }) => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        CtlError::Input(format!("{} has no file name", file.display()))
                    })?,
            };
            ctl.config_upload(&name, read(&file)?).await?;
            if args.json {
                writeln!(out, "{}", json!({ "uploaded": name })).map_err(io)?;
            } else {
                writeln!(out, "Uploaded {name}").map_err(io)?;
            }
        }
        Command::Health => {
            ctl.health().await?;
            if args.json {
                writeln!(out, "{}", json!({ "status": "ok", "server": args.server }))
                    .map_err(io)?;
            } else {
                writeln!(out, "riptide-control at {} is up", args.server).map_err(io)?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("riptidectl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": e.to_string() }));
            } else {
                eprintln!("riptidectl: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
