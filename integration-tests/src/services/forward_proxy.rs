//! A forward proxy (Debian's tinyproxy) and, behind it, a module proxy that build steps reach
//! only through it: a firewall rule rejects connections to its port from anywhere but this
//! machine itself (the forward proxy's own connections come over the loopback interface). The
//! module proxy is on the bridge gateway, not on a loopback address, because Go never sends
//! requests for loopback addresses through a proxy.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::module_proxy::ModuleProxy;
use super::process::{Daemon, FirewallRule, free_port, service_dir};
use crate::env::{bridge, env};

/// The forward proxy and its hidden module proxy; stopped when dropped.
pub struct ForwardProxy {
    /// The forward proxy, `http://<gateway>:<port>`, for `HTTP_PROXY`.
    pub url: String,
    /// The module proxy that only the forward proxy reaches, for `GOPROXY`.
    pub goproxy: String,
    /// The forward proxy's log: one line per request it carried.
    pub log: PathBuf,
    // (Dropped in this order: the forward proxy, the rule, the module proxy.)
    _tinyproxy: Daemon,
    _rule: FirewallRule,
    _hidden: ModuleProxy,
}

impl ForwardProxy {
    pub fn start() -> ForwardProxy {
        let (gateway, subnet) = (&bridge().gateway, &bridge().subnet);
        let hidden = ModuleProxy::serve(&env().module_proxy_files, "hidden-module-proxy");
        let port = hidden.port.to_string();
        let rule = FirewallRule::insert(&["-p", "tcp", "--dport", &port, "!", "-i", "lo", "-j", "REJECT", "--reject-with", "tcp-reset"]);

        let dir = service_dir("forward-proxy");
        let log = dir.join("tinyproxy.log");
        // tinyproxy is told its port: one the OS has just handed out.
        let proxy_port = free_port(gateway);
        // Clients allowed: the bridge's subnet and this machine's own addresses (a connection
        // from this machine to the gateway address may come from any of them).
        let addrs = Command::new("ip").args(["-4", "-o", "addr", "show"]).output().expect("ip runs");
        let mut allow: Vec<String> = String::from_utf8_lossy(&addrs.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3)?.split('/').next().map(|a| format!("Allow {a}")))
            .collect();
        allow.sort();
        allow.dedup();
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {proxy_port}\nListen {gateway}\nTimeout 600\nMaxClients 100\nLogFile \"{}\"\nLogLevel Info\nAllow {subnet}\n{}\n",
                log.display(),
                allow.join("\n")
            ),
        )
        .unwrap();
        let mut tinyproxy = Daemon::spawn("tinyproxy", Command::new("tinyproxy").arg("-d").arg("-c").arg(&conf), &dir.join("stderr.log"), libc::SIGTERM);

        let url = format!("http://{gateway}:{proxy_port}");
        let goproxy = hidden.url.clone();
        let probe = format!("{goproxy}/golang.org/x/text/@v/list");
        tinyproxy.wait_for("carry a request", Duration::from_secs(20), |_| {
            let r = Command::new("curl").args(["-fsS", "-o", "/dev/null", "-x", &url, &probe]).status().ok()?;
            r.success().then_some(())
        });
        ForwardProxy { url, goproxy, log, _tinyproxy: tinyproxy, _rule: rule, _hidden: hidden }
    }

    /// The forward proxy's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
