//! What the server needs to speak after a breach: the organisation (for the art. 33 draft),
//! the templates, the channels messages leave by, and what they say of their sender.

use rempart_incident::{Language, Organisation, Templates};
use rempart_vault::{Courier, NoticeOptions};
use std::sync::Arc;

/// The server's breach-response settings (`[notices]`).
#[derive(Default)]
pub struct Breach {
    /// Who notifies the authority.
    pub organisation: Organisation,
    /// The templates in use.
    pub templates: Templates,
    /// Where answers to "was I affected?" leave; `None`: not configured (the endpoint answers
    /// 503 to everyone alike).
    pub courier: Option<Arc<dyn Courier>>,
    /// What messages say of their sender.
    pub options: NoticeOptions,
    /// The default language of notices and answers.
    pub language: Language,
}

impl std::fmt::Debug for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breach")
            .field("organisation", &self.organisation.name)
            .field("courier", &self.courier.is_some())
            .finish_non_exhaustive()
    }
}
