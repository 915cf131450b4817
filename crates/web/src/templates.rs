//! Server-rendered pages: the minijinja environment, compiled once at start.
//!
//! The built-in templates are compiled in, so the binary needs no files beside it. An
//! application overrides any of them (or adds its own pages that extend `base.html`) from a
//! folder (`web.templates_dir`: every `*.html` and `*.txt` file there, by file name; mail is
//! `mail.txt` and `mail.html`) and in code
//! ([`WristbandBuilder::template`](crate::WristbandBuilder::template)); later sources win.

use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

/// The built-in templates.
const BUILT_IN: [(&str, &str); 17] = [
    ("base.html", include_str!("../templates/base.html")),
    ("register.html", include_str!("../templates/register.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("account.html", include_str!("../templates/account.html")),
    (
        "reauthenticate.html",
        include_str!("../templates/reauthenticate.html"),
    ),
    (
        "forgot_password.html",
        include_str!("../templates/forgot_password.html"),
    ),
    (
        "reset_password.html",
        include_str!("../templates/reset_password.html"),
    ),
    (
        "verify_email.html",
        include_str!("../templates/verify_email.html"),
    ),
    (
        "link_invalid.html",
        include_str!("../templates/link_invalid.html"),
    ),
    (
        "login_2fa.html",
        include_str!("../templates/login_2fa.html"),
    ),
    (
        "account_2fa.html",
        include_str!("../templates/account_2fa.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../templates/recovery_codes.html"),
    ),
    (
        "account_tokens.html",
        include_str!("../templates/account_tokens.html"),
    ),
    // Mail: the plain-text and the HTML part of every message.
    ("mail.txt", include_str!("../templates/mail/mail.txt")),
    ("mail.html", include_str!("../templates/mail/mail.html")),
];

/// Why the templates could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The templates folder or one of its files could not be read.
    #[error("cannot read the templates in {path}")]
    Read {
        /// The folder or file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A template does not compile.
    #[error("the template {name} does not compile")]
    Syntax {
        /// Its name.
        name: String,
        /// minijinja's error (with the line).
        #[source]
        source: minijinja::Error,
    },
}

/// The compiled templates (cheap to share: the mail renderer holds a clone).
#[derive(Debug, Clone)]
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles the built-ins, then every `*.html` of `folder`, then `in_code`.
    pub fn new(folder: Option<&Path>, in_code: &[(String, String)]) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        let mut add = |name: String, source: String| {
            env.add_template_owned(name.clone(), source)
                .map_err(|source| TemplateError::Syntax { name, source })
        };
        for (name, source) in BUILT_IN {
            add(name.to_owned(), source.to_owned())?;
        }
        if let Some(folder) = folder {
            for (name, source) in read_folder(folder)? {
                add(name, source)?;
            }
        }
        for (name, source) in in_code {
            add(name.clone(), source.clone())?;
        }
        Ok(Self { env })
    }

    /// Renders `name` with `context`. Autoescaping is on for `.html`.
    pub fn render<C: Serialize>(&self, name: &str, context: C) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}

/// Every `*.html` and `*.txt` file directly in `folder`, by file name.
fn read_folder(folder: &Path) -> Result<Vec<(String, String)>, TemplateError> {
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| TemplateError::Read { path, source }
    };
    let mut templates = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_error(folder))? {
        let path = entry.map_err(read_error(folder))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && (name.ends_with(".html") || name.ends_with(".txt")) {
            let source = std::fs::read_to_string(&path).map_err(read_error(&path))?;
            templates.push((name.to_owned(), source));
        }
    }
    templates.sort();
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_compile_and_overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("login.html"), "folder login").unwrap();
        std::fs::write(dir.path().join("notes.md"), "{{ not a template").unwrap();
        let t = Templates::new(
            Some(dir.path()),
            &[("register.html".into(), "code register".into())],
        )
        .unwrap();
        assert_eq!(t.render("login.html", ()).unwrap(), "folder login");
        assert_eq!(t.render("register.html", ()).unwrap(), "code register");
        let bad = Templates::new(None, &[("x.html".into(), "{% if %}".into())]);
        assert!(matches!(bad, Err(TemplateError::Syntax { .. })));
        let missing = Templates::new(Some(&dir.path().join("nope")), &[]);
        assert!(matches!(missing, Err(TemplateError::Read { .. })));
    }
}
