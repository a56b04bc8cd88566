//! `virtsmoke facts`: what each host runs.

use std::path::PathBuf;

use clap::Args;

use crate::backend::Host;
use crate::exit;
use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor};

#[derive(Args)]
pub struct FactsArgs {
    /// Scenario or inventory files whose hosts to ask.
    scenarios: Vec<PathBuf>,
    /// A libvirt URI to ask (repeatable), instead of or besides scenarios.
    #[arg(long)]
    uri: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The hosts named by scenarios and `--uri`.
pub fn targets(scenarios: &[PathBuf], uris: &[String]) -> Result<Vec<HostSpec>, u8> {
    let mut out: Vec<HostSpec> = Vec::new();
    if !scenarios.is_empty() {
        match crate::scenario::load_hosts(scenarios) {
            Ok(plan) => out.extend(plan.hosts.into_values()),
            Err(e) => {
                eprintln!("{e}");
                return Err(exit::BAD_INPUT);
            }
        }
    }
    out.extend(uris.iter().map(|u| HostSpec {
        name: u.clone(),
        uri: u.clone(),
        hypervisor: if u.starts_with("xen") || u.starts_with("libxl") { Hypervisor::Xen } else { Hypervisor::Kvm },
        accel: AccelPreference::Auto,
        netns: None,
        bridge: String::new(),
        capacity: Capacity { guests: 1, memory_mib: 0 },
        roles: vec![],
        labels: Default::default(),
        jump: None,
    }));
    if out.is_empty() {
        eprintln!("error: name scenario files or --uri");
        return Err(exit::BAD_INPUT);
    }
    Ok(out)
}

pub fn facts(args: FactsArgs) -> u8 {
    let targets = match targets(&args.scenarios, &args.uri) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return exit::INFRASTRUCTURE };
    let mut code = exit::PASSED;
    let mut all = Vec::new();
    for spec in targets {
        let name = spec.name.clone();
        let r = rt.block_on(async {
            let host = Host::connect(&spec.name, &spec.uri).await?;
            let mut facts = host.facts().await?;
            crate::hostaccess::enrich(&spec, &mut facts).await;
            Ok::<_, crate::backend::BackendError>(facts)
        });
        match r {
            Ok(f) => {
                if !args.json {
                    println!("{name}:");
                    for (k, v) in f.properties() {
                        println!("  {k}: {v}");
                    }
                    println!("  domain_types: {}", f.domain_types.join(", "));
                }
                all.push(f);
            }
            Err(e) => {
                eprintln!("error: host {name}: {}", crate::error_chain(&e));
                code = exit::INFRASTRUCTURE;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    }
    code
}
