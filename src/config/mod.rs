//! Configuration: redis.conf parsing, the directive table behind CONFIG
//! GET/SET, and CONFIG REWRITE.
//!
//! Pure: `parse` turns text into directives with file and line numbers,
//! `Config::apply` validates and stores one directive, `rewrite` produces the
//! new file text. Reading and writing files happens in `load` and
//! `rewrite_file`, thin wrappers the binary and CONFIG REWRITE call.

mod directives;
mod parse;
mod rewrite;

pub use directives::{
    parse_memory, parse_output_limits, BadValue, Config, EvictionPolicy, LogLevel, Password,
};
pub use parse::{parse_args, parse_text, ConfigError, Line};
pub use rewrite::{quote, rewrite_file, rewrite_text};

use std::path::{Path, PathBuf};

/// Reads a config file (following `include`), applies the command-line
/// directives after it, and returns the resulting configuration.
pub fn load(file: Option<&Path>, cli: &[String]) -> Result<Config, ConfigError> {
    load_lines(Config::default(), file, cli, |_| false, |_| {}).map(|(cfg, _)| cfg)
}

/// Sentinel mode's loader: the `sentinel ...` lines are returned (for the
/// sentinel's own parser) instead of applied; the port defaults to 26379
/// and nothing is persisted as data (no save rules, no AOF).
pub fn load_sentinel(file: &Path, cli: &[String]) -> Result<(Config, Vec<Line>), ConfigError> {
    let base = Config {
        port: 26379,
        save: Vec::new(),
        ..Config::default()
    };
    let is_sentinel = |l: &Line| {
        l.args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case("sentinel"))
    };
    load_lines(base, Some(file), cli, is_sentinel, |cfg| {
        cfg.save.clear();
        cfg.appendonly = false;
    })
}

/// Applies the file's and the command line's directives to `cfg`, except
/// those `divert` picks (returned), then `adjust`, then validates.
fn load_lines(
    mut cfg: Config,
    file: Option<&Path>,
    cli: &[String],
    divert: impl Fn(&Line) -> bool,
    adjust: impl FnOnce(&mut Config),
) -> Result<(Config, Vec<Line>), ConfigError> {
    let mut lines = Vec::new();
    if let Some(f) = file {
        read_file(f, &mut lines, 0)?;
        cfg.file = Some(f.canonicalize().unwrap_or_else(|_| f.to_path_buf()));
    }
    lines.extend(parse_args(cli)?);
    let mut diverted = Vec::new();
    for l in lines {
        if divert(&l) {
            diverted.push(l);
            continue;
        }
        cfg.apply(&l.args).map_err(|e| ConfigError::at(&l, &e.0))?;
    }
    adjust(&mut cfg);
    cfg.validate().map_err(|e| ConfigError {
        file: None,
        line: 0,
        text: String::new(),
        msg: e.0,
    })?;
    Ok((cfg, diverted))
}

fn read_file(path: &Path, out: &mut Vec<Line>, depth: usize) -> Result<(), ConfigError> {
    if depth > 16 {
        return Err(ConfigError {
            file: Some(path.to_path_buf()),
            line: 0,
            text: String::new(),
            msg: "include nesting too deep".into(),
        });
    }
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| ConfigError {
        file: Some(path.to_path_buf()),
        line: 0,
        text: String::new(),
        msg: format!(
            "Fatal error, can't open config file '{}': {e}",
            path.display()
        ),
    })?;
    for l in parse_text(&text, Some(path))? {
        if l.args[0].eq_ignore_ascii_case("include") {
            if l.args.len() != 2 {
                return Err(ConfigError::at(&l, "wrong number of arguments"));
            }
            let inc = PathBuf::from(&l.args[1]);
            read_file(&inc, out, depth + 1)?;
        } else {
            out.push(l);
        }
    }
    Ok(())
}

/// Every directive, for CONFIG GET pattern matching.
pub fn directives_table() -> &'static [directives::Directive] {
    directives::DIRECTIVES
}
