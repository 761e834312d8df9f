use std::process::ExitCode;

use mentorsite::config::Config;
use mentorsite::scaffold;

use crate::cli::NewCommand;

pub fn run(cmd: NewCommand) -> ExitCode {
    let NewCommand::Mentor { name, root } = cmd;
    let root = root.root;
    let config = match Config::load(&root) {
        Ok(Ok(c)) => c,
        Ok(Err(diags)) => {
            eprint!("{}", diags.render_text());
            return ExitCode::from(super::CONTENT_ERRORS);
        }
        Err(e) => {
            eprintln!(
                "error: cannot read {}: {e}",
                root.join(mentorsite::config::FILE_NAME).display()
            );
            return ExitCode::from(super::FAILURE);
        }
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
