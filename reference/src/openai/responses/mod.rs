//! The OpenAI Responses API (`POST /v1/responses`), bridged onto chat completions or passed
//! through. Reading order: [`mode`] (which of the two, per route), [`request`] (a Responses request
//! as a chat request: [`input`] for the conversation, [`tools`] for the tools, [`warnings`] for
//! what could not be carried), [`calls`] (tool calls mapped both ways), [`reasoning`] (reasoning
//! items and the provider's reasoning text), [`output`] (a chat completion as a Response) and
//! [`events`] (chat chunks as the Responses event stream).

pub(crate) mod calls;
pub(crate) mod events;
pub(crate) mod input;
pub(crate) mod mode;
pub(crate) mod output;
pub(crate) mod reasoning;
pub(crate) mod request;
pub(crate) mod tools;
pub(crate) mod warnings;
