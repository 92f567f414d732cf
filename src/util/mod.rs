//! Small pure helpers shared by the server's stages: glob matching, number
//! parsing and formatting with Redis's exact rules, time.

pub mod fork;
pub mod glob;
pub mod num;
pub mod time;
