//! Which wire a `/v1/responses` request takes to its provider: bridged onto chat completions, or
//! passed through to the provider's own `/responses`.
//!
//! A pure function of the resolved route and the operator's settings, so each new input is one
//! more argument: today the global `MINI_AGENT_RESPONSES_MODE` and a per-deployment
//! `responses_mode` (the router file's; `None` where the route has none), which wins. `auto` passes
//! through only where the provider is known to speak Responses — the `openai` kind at OpenAI's own
//! base — because a compatible server that lacks `/responses` would turn every request into a 404.

use crate::openai::settings::ResponsesMode;
use crate::provider::kind::ProviderKind;
use crate::provider::route::Route;

/// The host of OpenAI's own API.
const OPENAI_HOST: &str = "api.openai.com";

/// How one request reaches its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Translated to chat completions and back.
    Bridge,
    /// The body to the provider's `/responses`, its answer relayed byte for byte.
    Passthrough,
}

/// The wire for `route`: the deployment's own mode when it has one, else the global one; `auto`
/// decided by what the provider is. The dummy model is answered here, so always bridged.
pub(crate) fn wire(route: &Route, global: ResponsesMode, deployment: Option<ResponsesMode>) -> Wire {
    if route.kind == ProviderKind::Dummy {
        return Wire::Bridge;
    }
    match deployment.unwrap_or(global) {
        ResponsesMode::Bridge => Wire::Bridge,
        ResponsesMode::Passthrough => Wire::Passthrough,
        ResponsesMode::Auto if speaks_responses(route) => Wire::Passthrough,
        ResponsesMode::Auto => Wire::Bridge,
    }
}

/// Whether the route is OpenAI itself.
fn speaks_responses(route: &Route) -> bool {
    route.kind == ProviderKind::OpenAi
        && url::Url::parse(&route.api_base)
            .is_ok_and(|u| u.host_str().is_some_and(|h| h.eq_ignore_ascii_case(OPENAI_HOST)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::retry::RetryPolicy;

    fn route(kind: ProviderKind, base: &str) -> Route {
        Route {
            kind,
            upstream_model: "m".into(),
            api_base: base.into(),
            api_key: None,
            timeout: None,
            retry: RetryPolicy::NONE,
            corrected_from: None,
            max_tokens: None,
        }
    }

    #[test]
    fn auto_passes_through_only_to_openai_itself_and_a_deployment_wins() {
        let openai = route(ProviderKind::OpenAi, "https://api.openai.com/v1");
        let compatible = route(ProviderKind::OpenAi, "http://127.0.0.1:9000/v1");
        let ollama = route(ProviderKind::Ollama, "http://127.0.0.1:11434/v1");
        let dummy = route(ProviderKind::Dummy, "");
        let cases = [
            (&openai, ResponsesMode::Auto, None, Wire::Passthrough),
            (&compatible, ResponsesMode::Auto, None, Wire::Bridge),
            (&ollama, ResponsesMode::Auto, None, Wire::Bridge),
            (&compatible, ResponsesMode::Passthrough, None, Wire::Passthrough),
            (&openai, ResponsesMode::Bridge, None, Wire::Bridge),
            (&openai, ResponsesMode::Passthrough, Some(ResponsesMode::Bridge), Wire::Bridge),
            (&compatible, ResponsesMode::Bridge, Some(ResponsesMode::Passthrough), Wire::Passthrough),
            (&compatible, ResponsesMode::Bridge, Some(ResponsesMode::Auto), Wire::Bridge),
            (&dummy, ResponsesMode::Passthrough, None, Wire::Bridge),
        ];
        for (route, global, deployment, want) in cases {
            assert_eq!(wire(route, global, deployment), want, "{} {global:?} {deployment:?}", route.api_base);
        }
    }
}
