//! `e2e`: bring the live stack up in the background, print how to reach it, and take it down again.
//!
//! `e2e up [--containers auto|yes|no]` starts the stack — containers when Docker and the project's
//! image are there (`make images`), processes otherwise — waits until every part is ready, and
//! records what it started in `.e2e/state.json`. `e2e env` prints the addresses as `export` lines.
//! `e2e down` stops exactly what `up` recorded (process groups or containers) and removes the state.
#![allow(clippy::disallowed_methods, reason = "harness tooling starts real programs and reads its own settings")]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use harness::stack::{Addresses, facade_env, router_config};
use harness::{containers, parse_listening};
use serde::{Deserialize, Serialize};

const DIR: &str = ".e2e";

#[derive(Debug, Serialize, Deserialize)]
struct State {
    mode: String,
    addresses: Addresses,
    /// Process-group ids of detached processes.
    pids: Vec<u32>,
    /// Container names.
    containers: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => {
            let mode = args
                .iter()
                .position(|a| a == "--containers")
                .and_then(|i| args.get(i + 1))
                .map_or("auto", String::as_str);
            up(mode)
        }
        Some("down") => down(),
        Some("env") => env(),
        _ => Err("usage: e2e up [--containers auto|yes|no] | e2e env | e2e down".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}

fn state_path() -> PathBuf {
    Path::new(DIR).join("state.json")
}

fn bin(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.parent().map(|d| d.join(name)).ok_or("no binary directory")?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is not built (cargo build --workspace --bins)", path.display()))
    }
}

fn free_port() -> Result<u16, String> {
    Ok(TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port())
}

fn up(mode: &str) -> Result<(), String> {
    if state_path().exists() {
        return Err(format!("{} exists: the stack is up (run `make e2e-down` first)", state_path().display()));
    }
    std::fs::create_dir_all(DIR).map_err(|e| e.to_string())?;
    let use_containers = match mode {
        "yes" => {
            containers::available()?;
            true
        }
        "no" => false,
        _ => match containers::available() {
            Ok(()) => true,
            Err(why) => {
                eprintln!("e2e: not using containers: {why}; starting processes");
                false
            }
        },
    };
    let state = if use_containers { up_containers()? } else { up_processes()? };
    std::fs::write(state_path(), serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    println!("e2e: stack up ({}); export these to use it:", state.mode);
    print_env(&state.addresses);
    Ok(())
}

/// Starts one detached process (its own process group, output to a log file) and waits for its
/// "listening on" line.
fn spawn_detached(
    name: &str,
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> Result<(u32, String), String> {
    let log_path = Path::new(DIR).join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?
    };
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(parse_listening) {
            return Ok((pid, format!("http://{addr}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_group(pid);
    Err(format!("{name} did not become ready; see {}", log_path.display()))
}

fn up_processes() -> Result<State, String> {
    let miniagent = bin("miniagent")?;
    let conformance = bin("conformance")?;
    let mut pids = Vec::new();
    let mut start = |name: &str, program: &Path, args: &[&str], env: &[(String, String)]| -> Result<String, String> {
        let (pid, addr) = spawn_detached(name, program, args, env)?;
        pids.push(pid);
        Ok(addr)
    };
    let started = (|| -> Result<Addresses, String> {
        let provider_fake = start("provider-fake", &conformance, &["fakes"], &[])?;
        let tools_stub = start("tools-stub", &miniagent, &["tools-stub", "--port", "0"], &[])?;
        let sidecar =
            start("sidecar", &miniagent, &["sidecar", "--port", "0"], &[("CODEX_SIDECAR_ECHO".into(), "1".into())])?;
        let exec_rpc = start("exec-rpc", &miniagent, &["exec-rpc", "--port", "0"], &[])?;
        let config = Path::new(DIR).join("router.yaml");
        let lookup = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        std::fs::write(&config, router_config(&sidecar, &lookup)).map_err(|e| e.to_string())?;
        let config = config.canonicalize().map_err(|e| e.to_string())?.display().to_string();
        let env = facade_env(&provider_fake, &sidecar);
        let facade = start("facade", &miniagent, &["serve", "--demo", "--port", "0", "--config", &config], &env)?;
        Ok(Addresses { facade, exec_rpc, sidecar, tools_stub, provider_fake })
    })();
    match started {
        Ok(addresses) => Ok(State { mode: "processes".into(), addresses, pids, containers: Vec::new() }),
        Err(e) => {
            for pid in pids {
                kill_group(pid);
            }
            Err(e)
        }
    }
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker").args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The same stack as containers of the project's image, on the host network (so every part still
/// binds 127.0.0.1 and the addresses look the same).
fn up_containers() -> Result<State, String> {
    let mut names = Vec::new();
    let tag = std::process::id();
    let e2e_dir = std::fs::canonicalize(DIR).map_err(|e| e.to_string())?.display().to_string();
    let mut run = |part: &str, port: u16, env: &[(String, String)], cmd: &[&str]| -> Result<String, String> {
        let name = format!("miniagent-e2e-{part}-{tag}");
        let mut args: Vec<String> =
            ["run", "-d", "--network", "host", "--name", &name].iter().map(|s| (*s).to_owned()).collect();
        // The façade reads its router config from the state directory, mounted read-only.
        args.extend(["-v".to_owned(), format!("{e2e_dir}:/e2e:ro")]);
        // As a deployment that runs tools must: user namespaces allowed, so the tool sandbox works
        // (without them tools are refused, 503 — the sandbox fails closed).
        for opt in ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"] {
            args.extend(["--security-opt".to_owned(), opt.to_owned()]);
        }
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(containers::IMAGE.into());
        args.extend(cmd.iter().map(|s| (*s).to_owned()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&argv)?;
        names.push(name);
        let addr = format!("http://127.0.0.1:{port}");
        wait_http(&addr, part)?;
        Ok(addr)
    };
    let started = (|| -> Result<Addresses, String> {
        let (pf, ts, sc, er, fa) = (free_port()?, free_port()?, free_port()?, free_port()?, free_port()?);
        let provider_fake =
            run("provider-fake", pf, &[], &["conformance", "fakes", "--provider-addr", &format!("127.0.0.1:{pf}")])?;
        let tools_stub = run("tools-stub", ts, &[], &["miniagent", "tools-stub", "--port", &ts.to_string()])?;
        let sidecar = run(
            "sidecar",
            sc,
            &[("CODEX_SIDECAR_ECHO".into(), "1".into())],
            &["miniagent", "sidecar", "--port", &sc.to_string()],
        )?;
        let exec_rpc = run("exec-rpc", er, &[], &["miniagent", "exec-rpc", "--port", &er.to_string()])?;
        let lookup = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        std::fs::write(Path::new(DIR).join("router.yaml"), router_config(&sidecar, &lookup))
            .map_err(|e| e.to_string())?;
        let env = facade_env(&provider_fake, &sidecar);
        let port = fa.to_string();
        let facade = run(
            "facade",
            fa,
            &env,
            &["miniagent", "serve", "--demo", "--port", &port, "--config", "/e2e/router.yaml"],
        )?;
        Ok(Addresses { facade, exec_rpc, sidecar, tools_stub, provider_fake })
    })();
    match started {
        Ok(addresses) => Ok(State { mode: "containers".into(), addresses, pids: Vec::new(), containers: names }),
        Err(e) => {
            for n in &names {
                let _ = docker(&["rm", "-f", n]);
            }
            Err(e)
        }
    }
}

/// Waits until something answers HTTP on `addr` (any status).
fn wait_http(addr: &str, part: &str) -> Result<(), String> {
    let hostport = addr.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(hostport) {
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the {part} container did not listen on {addr} within 30 s (docker logs miniagent-e2e-{part}-*)"))
}

/// SIGTERM to the whole process group, then waits (up to 5 s) until none of it is left; SIGKILL
/// after that. `--` keeps the negative pid (a group) from being read as an option.
fn kill_group(pgid: u32) {
    let signal = |sig: &str| {
        Command::new("kill")
            .args(["-s", sig, "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        // Signal 0 probes: it fails once no process of the group is left.
        if !signal("0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("KILL");
}

fn down() -> Result<(), String> {
    let Ok(text) = std::fs::read_to_string(state_path()) else {
        println!("e2e: nothing is up");
        return Ok(());
    };
    let state: State = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", state_path().display()))?;
    for pid in &state.pids {
        kill_group(*pid);
    }
    for name in &state.containers {
        docker(&["rm", "-f", name])?;
    }
    std::fs::remove_file(state_path()).map_err(|e| e.to_string())?;
    println!("e2e: stopped {} process group(s) and {} container(s)", state.pids.len(), state.containers.len());
    Ok(())
}

fn env() -> Result<(), String> {
    let text = std::fs::read_to_string(state_path()).map_err(|_| "nothing is up (make e2e-up)".to_owned())?;
    let state: State = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    print_env(&state.addresses);
    Ok(())
}

fn print_env(a: &Addresses) {
    println!(
        "export E2E_STATE={}",
        std::env::current_dir().map(|d| d.join(state_path()).display().to_string()).unwrap_or_default()
    );
    println!("export MINI_AGENT_URL={}", a.facade);
    println!("export EXEC_RPC_URL={}", a.exec_rpc);
    println!("export CODEX_AGENT_API_BASE={}", a.sidecar);
    println!("export TOOLS_STUB_URL={}", a.tools_stub);
    println!("export PROVIDER_FAKE_URL={}", a.provider_fake);
    println!("export LITELLM_ENABLE_CODEX_AGENT=1 SCILLM_RETRY_META=1 CODEX_AGENT_ENABLE_METRICS=1");
}
