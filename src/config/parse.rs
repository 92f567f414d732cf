//! redis.conf syntax: one directive per line, arguments split like
//! redis-server's `sdssplitargs` (double quotes with C escapes, single
//! quotes), `#` comments, and `--directive value` on the command line.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// One directive with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The file, or `None` for the command line.
    pub file: Option<PathBuf>,
    /// 1-based line number (0 for the command line).
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// Directive name (as written) followed by its arguments.
    pub args: Vec<String>,
}

/// A configuration error: file, line and directive, as the start-up message
/// must say where the problem is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, or `None` for the command line.
    pub file: Option<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    /// The offending line.
    pub text: String,
    /// What is wrong.
    pub msg: String,
}

impl ConfigError {
    /// An error about `line`.
    pub fn at(line: &Line, msg: &str) -> ConfigError {
        ConfigError {
            file: line.file.clone(),
            line: line.line,
            text: line.text.clone(),
            msg: msg.to_string(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "*** FATAL CONFIG FILE ERROR (picket {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        match (&self.file, self.line) {
            (Some(p), l) if l > 0 => writeln!(
                f,
                "Reading the configuration file {}, at line {l}",
                p.display()
            )?,
            (Some(p), _) => writeln!(f, "Reading the configuration file {}", p.display())?,
            (None, l) if l > 0 || !self.text.is_empty() => {
                writeln!(f, "Reading the command line arguments")?
            }
            (None, _) => {}
        }
        if !self.text.is_empty() {
            writeln!(f, ">>> '{}'", self.text)?;
        }
        write!(f, "{}", self.msg)
    }
}

/// Splits config text into directive lines.
pub fn parse_text(text: &str, file: Option<&Path>) -> Result<Vec<Line>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut ranges = Vec::new();
        let mut buf = Vec::new();
        let line = Line {
            file: file.map(Path::to_path_buf),
            line: i + 1,
            text: t.to_string(),
            args: Vec::new(),
        };
        if crate::resp::decode::split_args(t.as_bytes(), &mut ranges, &mut buf).is_none() {
            return Err(ConfigError::at(
                &line,
                "Unbalanced quotes in configuration line",
            ));
        }
        let mut args = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match String::from_utf8(buf[s..e].to_vec()) {
                Ok(a) => args.push(a),
                Err(_) => {
                    return Err(ConfigError::at(
                        &line,
                        "Invalid UTF-8 in configuration line",
                    ))
                }
            }
        }
        if args.is_empty() {
            continue;
        }
        out.push(Line { args, ..line });
    }
    Ok(out)
}

/// Turns `--port 7000 --save "" --bind 127.0.0.1 ::1` into directives.
/// Everything after a `--name` up to the next `--name` is its arguments.
pub fn parse_args(cli: &[String]) -> Result<Vec<Line>, ConfigError> {
    let mut out: Vec<Line> = Vec::new();
    for a in cli {
        if let Some(name) = a
            .strip_prefix("--")
            .filter(|n| !n.is_empty() && !n.starts_with('-'))
        {
            out.push(Line {
                file: None,
                line: 0,
                text: name.to_string(),
                args: vec![name.to_string()],
            });
        } else {
            let Some(last) = out.last_mut() else {
                return Err(ConfigError {
                    file: None,
                    line: 0,
                    text: a.clone(),
                    msg: "Invalid argument: expected --directive".into(),
                });
            };
            last.args.push(a.clone());
            last.text.push(' ');
            last.text.push_str(a);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_quotes_and_line_numbers() {
        let t = "# c\nport 7000\n\n  save \"\" \nrequirepass 'a b'\n";
        let l = parse_text(t, None).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].args, vec!["port", "7000"]);
        assert_eq!(l[0].line, 2);
        assert_eq!(l[1].args, vec!["save", ""]);
        assert_eq!(l[2].args, vec!["requirepass", "a b"]);
    }

    #[test]
    fn unbalanced_quotes_name_the_line() {
        let e = parse_text("port 1\nbind \"x\n", Some(Path::new("/x.conf"))).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("/x.conf, at line 2"));
    }

    #[test]
    fn command_line_directives_group_arguments() {
        let a: Vec<String> = ["--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let l = parse_args(&a).unwrap();
        assert_eq!(l[0].args, vec!["port", "7000"]);
        assert_eq!(l[1].args, vec!["save", ""]);
        assert_eq!(l[2].args, vec!["bind", "127.0.0.1", "::1"]);
    }
}
