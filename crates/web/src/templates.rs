//! Server-rendered pages: the minijinja environment with every template compiled in.

use minijinja::Environment;
use serde::Serialize;

/// The templates, embedded at compile time so the binary needs no files beside it.
const TEMPLATES: [(&str, &str); 9] = [
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("register.html", include_str!("../templates/register.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("logout.html", include_str!("../templates/logout.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("account.html", include_str!("../templates/account.html")),
    (
        "reauthenticate.html",
        include_str!("../templates/reauthenticate.html"),
    ),
];

/// The compiled templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template; fails on a syntax error (caught by the test suite).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Renders `name` with `context`. Autoescaping is on for `.html`.
    pub fn render<C: Serialize>(&self, name: &str, context: C) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes() {
        let t = Templates::new().unwrap();
        let html = t
            .render(
                "dashboard.html",
                minijinja::context! { username => "<b>x</b>", current_user => true, flashes => Vec::<String>::new(), csrf_token => "t" },
            )
            .unwrap();
        assert!(html.contains("Welcome to your private dashboard, &lt;b&gt;x&lt;&#x2f;b&gt;!"));
    }
}
