use std::process::ExitCode;

use mentorsite::scaffold;

use crate::cli::NewCommand;

pub fn run(cmd: NewCommand) -> ExitCode {
    let NewCommand::Mentor { name, root } = cmd;
    let root = root.root;
    let config = match super::load_config(&root) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match scaffold::new_mentor(&root, &config, &name) {
        Ok(path) => {
            println!(
                "Created {}. Fill in the blanks, add the photo beside it, then run `mentorsite check`.",
                mentorsite::diag::display_path(&path)
            );
            ExitCode::from(super::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::FAILURE)
        }
    }
}
