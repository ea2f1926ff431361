//! The templates of every document Rempart writes after a breach, as files an operator can
//! edit: Rempart's own by default, any of them replaced by a file of the same name
//! ([`Templates::set`]). A template's first line is the message's subject; the rest, after one
//! blank line, its body.

use minijinja::Environment;
use serde::Serialize;

/// Names and default sources of the templates.
pub const DEFAULTS: [(&str, &str); 7] = [
    ("notice.fr.txt", include_str!("../templates/notice.fr.txt")),
    ("notice.en.txt", include_str!("../templates/notice.en.txt")),
    ("sms.fr.txt", include_str!("../templates/sms.fr.txt")),
    ("sms.en.txt", include_str!("../templates/sms.en.txt")),
    (
        "affected.fr.txt",
        include_str!("../templates/affected.fr.txt"),
    ),
    (
        "affected.en.txt",
        include_str!("../templates/affected.en.txt"),
    ),
    ("art33.fr.md", include_str!("../templates/art33.fr.md")),
];

/// Why a template cannot be used. Names the template and minijinja's reason, never the values
/// it was given.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template has that name.
    #[error("unknown template {0} (the templates are: {names})", names = DEFAULTS.map(|d| d.0).join(", "))]
    Unknown(String),
    /// The source does not parse, or rendering failed.
    #[error("template {name}: {reason}")]
    Invalid {
        /// The template.
        name: String,
        /// minijinja's reason (line and kind of error).
        reason: String,
    },
}

/// A rendered message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Its subject (first line of the template).
    pub subject: String,
    /// Its body.
    pub body: String,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message(<redacted>)")
    }
}

/// The set of templates in use.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Templates {
        let mut env = Environment::new();
        // Plain text and Markdown: nothing to escape; values never become markup.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in DEFAULTS {
            // The defaults are tested to parse (`every_default_template_parses`).
            let _ = env.add_template(name, source);
        }
        Templates { env }
    }
}

impl Templates {
    /// Replaces template `name` by `source`, checking that it parses.
    pub fn set(&mut self, name: &str, source: String) -> Result<(), TemplateError> {
        let Some((known, _)) = DEFAULTS.iter().find(|d| d.0 == name) else {
            return Err(TemplateError::Unknown(name.to_string()));
        };
        self.env
            .add_template_owned(*known, source)
            .map_err(|e| invalid(name, &e))
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, TemplateError> {
        let t = self
            .env
            .get_template(name)
            .map_err(|_| TemplateError::Unknown(name.to_string()))?;
        t.render(minijinja::value::Serde(ctx))
            .map_err(|e| invalid(name, &e))
    }

    /// Renders template `name` as a message: its first line the subject.
    pub fn message(&self, name: &str, ctx: impl Serialize) -> Result<Message, TemplateError> {
        let text = self.render(name, ctx)?;
        let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        Ok(Message {
            subject: subject.trim().to_string(),
            body: body.trim_start_matches('\n').to_string(),
        })
    }
}

/// minijinja's reason, without the values it was rendering.
fn invalid(name: &str, e: &minijinja::Error) -> TemplateError {
    TemplateError::Invalid {
        name: name.to_string(),
        reason: match e.line() {
            Some(l) => format!("line {l}: {:?}", e.kind()),
            None => format!("{:?}", e.kind()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_parses() {
        let mut env = Environment::new();
        for (name, source) in DEFAULTS {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_template_replaced_by_a_file_is_used_and_a_broken_one_refused() {
        let mut t = Templates::default();
        t.set("sms.fr.txt", "Code {{ code }}".into())
            .expect("a valid template");
        assert_eq!(
            t.render("sms.fr.txt", serde_json::json!({"code": "ABCD"}))
                .expect("renders"),
            "Code ABCD"
        );
        assert!(matches!(
            t.set("sms.fr.txt", "{% for %}".into()),
            Err(TemplateError::Invalid { .. })
        ));
        assert!(matches!(
            t.set("other.txt", "x".into()),
            Err(TemplateError::Unknown(_))
        ));
    }

    #[test]
    fn a_missing_value_is_an_error_not_an_empty_string() {
        let t = Templates::default();
        let e = t
            .render("sms.fr.txt", serde_json::json!({"code": "ABCD"}))
            .expect_err("values are missing");
        assert!(e.to_string().contains("sms.fr.txt"));
    }
}
