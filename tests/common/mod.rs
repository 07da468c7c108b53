//! Small HTTP helpers shared by the end-to-end tests (each test binary uses some of them).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// `GET url` → the JSON body (panics with the body when it is not JSON).
pub async fn get_json(url: impl AsRef<str>) -> Value {
    let res = harness::http_client().get(url.as_ref()).send().await.unwrap();
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {}: not JSON ({e}): {text}", url.as_ref()))
}

/// `POST url` with a JSON body → the status and the JSON body (`null` when it is not JSON).
pub async fn post_json(url: impl AsRef<str>, body: &Value) -> (u16, Value) {
    let res = harness::http_client().post(url.as_ref()).json(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A test whose prerequisites are checked when it runs: its async body returns
/// `Completion::ignored_with(reason)` when they are missing, so the run reports it as ignored with
/// the reason — never as a pass. A panic (a failed assertion) is a failure, as with `#[test]`.
pub fn trial<F, Fut>(name: &str, body: F) -> libtest_mimic::Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = libtest_mimic::Completion>,
{
    libtest_mimic::Trial::ignorable_test(name, move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(rt.block_on(body()))
    })
}

/// Runs the trials with the command line's filters and exits with the result.
pub fn run_trials(trials: Vec<libtest_mimic::Trial>) -> ! {
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit()
}

/// The value of a `Result` whose `Err` is why a test cannot run here, or the test ends as ignored
/// with that reason.
#[allow(unused_macros)] // each test binary includes this module; not all of them skip
macro_rules! or_ignore {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => return libtest_mimic::Completion::ignored_with(why),
        }
    };
}
#[allow(unused_imports)]
pub(crate) use or_ignore;
