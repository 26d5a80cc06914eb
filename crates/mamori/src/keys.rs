//! `mamori keys rotate` (item 61): a new data key is added to the key file
//! and every sealed value is sealed again under it, a few rows per
//! transaction while the server runs; the keys no value needs any more are
//! forgotten by the database (their lines stay in the file until the
//! operator removes them, once every instance has been restarted).

use crate::config;
use crate::settings::GlobalArgs;
use crate::shared::{console_ctx, key_file, open_keyed, outln, report_config_errors, EXIT_CONFIG, EXIT_PROBLEM};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// 新しいデータ鍵を作り、すべての暗号化した値をその鍵で暗号化し直す (add a data key and seal every value again under it)
    Rotate,
}

pub async fn run(global: &GlobalArgs, command: KeysCommand) -> ExitCode {
    let KeysCommand::Rotate = command;
    let (data_dir, location) = match config::data_location(global) {
        Ok(l) => l,
        Err(errors) => {
            report_config_errors(&errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(path) = key_file(&data_dir) else {
        eprintln!("mamori: MAMORI_DATA_KEY で渡した鍵は書き換えられません。鍵ファイル (MAMORI_DATA_KEY_FILE) を使ってください (keys given in MAMORI_DATA_KEY cannot be rotated here: use a key file)");
        return ExitCode::from(EXIT_CONFIG);
    };
    // The database must open with the keys as they are before one is added.
    let store = match open_keyed(&data_dir, &location).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mamori: {}", e.message(&data_dir, &location));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let next = store.keys().ids().into_iter().max().unwrap_or(0) + 1;
    store.close().await;
    if let Err(e) = append_key(&path, next) {
        eprintln!("mamori: {e}");
        return ExitCode::from(EXIT_PROBLEM);
    }
    let store = match open_keyed(&data_dir, &location).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mamori: {}", e.message(&data_dir, &location));
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let code = match store.rotate_keys(&console_ctx()).await {
        Ok(r) => {
            outln!(
                "データ鍵 #{} で {} 件の値を暗号化し直しました (values sealed again under data key #{})",
                r.key,
                r.values,
                r.key
            );
            outln!("ほかのインスタンスを再起動してから、もう一度実行してください。0 件になれば古い鍵の行を鍵ファイルから消せます (restart the other instances, run this again; at 0 values the old key lines may be removed)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: 鍵の更新に失敗しました (rotation failed): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    };
    store.close().await;
    code
}

/// Adds a new key as the file's last line.
fn append_key(path: &std::path::Path, id: u32) -> Result<(), String> {
    let mut text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&mamori_store::crypt::new_key_line(id));
    crate::private_file::replace_private_file(path, &text)
}
