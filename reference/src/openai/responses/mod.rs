//! The OpenAI Responses API (`POST /v1/responses`) bridged onto chat completions: [`request`]
//! turns a Responses request into a chat request (or refuses what needs storage or hosted tools),
//! [`output`] turns a chat completion into a Response, and [`events`] turns chat chunks into the
//! Responses event stream.

pub mod events;
pub mod output;
pub mod request;
