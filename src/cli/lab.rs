//! `virtsmoke lab up|down|status`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::exit;
use crate::lab::{self, LabOptions};

#[derive(Subcommand)]
pub enum LabCommand {
    /// Start the lab's hosts (harmless when already up).
    Up(LabArgs),
    /// Stop the lab and remove every trace: daemons, guests, namespaces, bridges, state.
    Down(LabArgs),
    /// Show each lab host and whether it is healthy.
    Status(LabArgs),
}

#[derive(Args)]
pub struct LabArgs {
    /// Where the lab keeps its state.
    #[arg(long, default_value = "/var/tmp/virtsmoke-lab")]
    dir: PathBuf,
    /// How many hosts (`up` only; `down` removes all of them).
    #[arg(long, default_value_t = 1)]
    hosts: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: LabCommand) -> u8 {
    let (args, result) = match cmd {
        LabCommand::Up(a) => {
            let r = lab::up(&LabOptions { dir: a.dir.clone(), hosts: a.hosts });
            (a, r)
        }
        LabCommand::Down(a) => {
            let r = lab::down(&LabOptions { dir: a.dir.clone(), hosts: a.hosts });
            (a, r)
        }
        LabCommand::Status(a) => {
            let r = lab::status(&LabOptions { dir: a.dir.clone(), hosts: a.hosts });
            (a, r)
        }
    };
    match result {
        Ok(status) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&status).unwrap_or_default());
            } else {
                println!("{status}");
            }
            if status.hosts.iter().all(|h| h.healthy) { exit::PASSED } else { exit::INFRASTRUCTURE }
        }
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&e));
            exit::INFRASTRUCTURE
        }
    }
}
