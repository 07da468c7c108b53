//! exec-RPC in-process (`oneshot`), with real compilers and interpreters as subprocesses.
//!
//! A language whose toolchain is not installed (`make deps` installs them) is reported as ignored
//! with the package to install — or fails under `MINIAGENT_REQUIRE_TOOLCHAINS=1` (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "tests read their own settings")]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use miniagent::exec_rpc::{ExecState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app(ExecState::new(
        Default::default(),
        Default::default(),
        std::sync::Arc::new(miniagent::Sandbox::new(Default::default())),
    ))
    .oneshot(req)
    .await
    .unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn exec(language: &str, code: &str, timeout_sec: Option<f64>) -> Value {
    let mut body = json!({"language": language, "code": code});
    if let Some(t) = timeout_sec {
        body["timeout_sec"] = json!(t);
    }
    let (status, v) = call("POST", "/exec", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn health_and_meta() {
    block_on(async {
        assert_eq!(call("GET", "/health", None).await, (200, json!({"ok": true})));
        let (status, meta) = call("GET", "/__meta", None).await;
        assert_eq!(status, 200);
        assert!(meta["git_sha"].as_str().is_some_and(|s| !s.is_empty()), "{meta}");
        assert!(meta["started_at"].as_f64().is_some_and(|t| t > 1.6e9), "{meta}");
    });
}

/// Programs a test needs, each with the Debian package that brings it.
type Programs = &'static [(&'static str, &'static str)];

/// Each language with a program that prints 45, and the programs it needs where the sandbox sees them.
const LANGUAGES: &[(&str, &str, Programs)] = &[
    ("python", "print(sum(range(10)))", &[("python3", "python3")]),
    ("py", "import sys; print(45); sys.stdout.flush()", &[("python3", "python3")]),
    ("c", "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 45); return 0;}", &[("gcc", "gcc")]),
    ("cpp", "#include <iostream>\nint main(){std::cout << 45 << std::endl;}", &[("g++", "g++")]),
    ("rust", "fn main() { println!(\"{}\", (0..10).sum::<i32>()); }", &[("rustc", "rustc")]),
    ("javascript", "console.log([...Array(10).keys()].reduce((a, b) => a + b))", &[("node", "nodejs")]),
    (
        "java",
        "public class Sum { public static void main(String[] a) { System.out.println(45); } }",
        &[("javac", "default-jdk-headless"), ("java", "default-jdk-headless")],
    ),
];

/// Why a language cannot run here: the first program missing from /usr/bin (the tools' filesystem
/// holds the system's directories, not a rustup or nvm in a home).
fn missing_toolchain(programs: &[(&str, &str)]) -> Option<String> {
    programs.iter().find(|(program, _)| !std::path::Path::new("/usr/bin").join(program).exists()).map(
        |(program, package)| {
            format!("needs /usr/bin/{program}: install {package} (make deps does it as root or with sudo)")
        },
    )
}

fn language_runs_for_real(language: &str, code: &str) {
    block_on(async {
        let v = exec(language, code, Some(60.0)).await;
        assert_eq!(
            (v["ok"].clone(), v["rc"].clone(), v["stdout"].clone()),
            (json!(true), json!(0), json!("45\n")),
            "{language}: {v}"
        );
        assert_eq!(v["error"], Value::Null);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["ok", "rc", "stdout", "stderr", "error", "t_ms"]);
    });
}

fn a_compile_error_is_a_result_not_a_crash() {
    block_on(async {
        let v = exec("c", "int main( { return 0; }", None).await;
        assert_eq!(v["ok"], json!(false));
        assert!(v["error"].as_str().is_some_and(|e| e.contains("compile step `gcc` failed")), "{v}");
        assert!(v["stderr"].as_str().is_some_and(|e| e.contains("error")), "{v}");
        // A compiler's diagnostics are kept up to 256 KiB: ≈ 10 KB of them, through the last line's.
        let code: String = (0..200).map(|i| format!("int v{i} = ;\n")).collect();
        let v = exec("c", &code, None).await;
        let stderr = v["stderr"].as_str().unwrap_or_default();
        assert!(stderr.len() > 8000 && stderr.contains("int v198 = ;"), "{} bytes of diagnostics: {v}", stderr.len());
    });
}

fn timeouts_kill_and_are_clamped_to_one_second() {
    block_on(async {
        let started = std::time::Instant::now();
        let v = exec("python", "import time; time.sleep(30)", Some(0.01)).await;
        assert_eq!(v["ok"], json!(false));
        assert_eq!(v["error"], json!("timeout after 1s"), "timeout_sec below 1 is raised to 1: {v}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    });
}

fn bad_requests() {
    block_on(async {
        for (body, status, detail) in [
            (json!({"language": "cobol", "code": "x"}), 400, "unsupported language: cobol"),
            (json!({"language": "python"}), 422, "missing field `code`"),
            (json!({"language": "python", "code": "x", "timeout_sec": "soon"}), 422, "timeout_sec"),
        ] {
            let (got, v) = call("POST", "/exec", Some(body)).await;
            assert_eq!(got, status, "{v}");
            assert!(v["detail"].as_str().is_some_and(|d| d.contains(detail)), "{v}");
        }
    });
}

fn unsupported_language_detail_is_exact() {
    block_on(async {
        let (_, v) = call("POST", "/exec", Some(json!({"language": "cobol", "code": "x"}))).await;
        assert_eq!(v, json!({"detail": "unsupported language: cobol"}));
    });
}

fn block_on<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f);
}

/// A trial that needs `programs`: ignored with the reason when one is missing, unless CI requires it.
fn needing(
    name: String,
    programs: &'static [(&'static str, &'static str)],
    test: impl FnOnce() + Send + 'static,
) -> Trial {
    Trial::ignorable_test(name, move || {
        if let Some(why) = missing_toolchain(programs) {
            if std::env::var_os("MINIAGENT_REQUIRE_TOOLCHAINS").is_some() {
                return Err(Failed::from(format!("{why} (MINIAGENT_REQUIRE_TOOLCHAINS is set)")));
            }
            return Ok(Completion::ignored_with(why));
        }
        test();
        Ok(Completion::Completed)
    })
}

fn a_compiled_program_past_its_timeout_is_its_own_timeout_not_the_compile_steps() {
    block_on(async {
        let v = exec("c", "int main(void){ for (;;) {} }", Some(1.0)).await;
        assert_eq!((v["ok"].clone(), v["error"].clone()), (json!(false), json!("timeout after 1s")), "{v}");
    });
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("health_and_meta", || {
            health_and_meta();
            Ok(())
        }),
        Trial::test("bad_requests", || {
            bad_requests();
            Ok(())
        }),
        Trial::test("unsupported_language_detail_is_exact", || {
            unsupported_language_detail_is_exact();
            Ok(())
        }),
        needing(
            "a_compile_error_is_a_result_not_a_crash".into(),
            &[("gcc", "gcc")],
            a_compile_error_is_a_result_not_a_crash,
        ),
        needing(
            "a_compiled_program_past_its_timeout_is_its_own_timeout_not_the_compile_steps".into(),
            &[("gcc", "gcc")],
            a_compiled_program_past_its_timeout_is_its_own_timeout_not_the_compile_steps,
        ),
        needing(
            "timeouts_kill_and_are_clamped_to_one_second".into(),
            &[("python3", "python3")],
            timeouts_kill_and_are_clamped_to_one_second,
        ),
    ];
    for (language, code, programs) in LANGUAGES {
        trials.push(needing(format!("languages_run_for_real::{language}"), programs, move || {
            language_runs_for_real(language, code);
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
