//! The command line: subcommands, and flags > environment > file.

use crate::harness::{run, Opts, Server};
use tempfile::TempDir;

#[tokio::test]
async fn help_lists_the_subcommands() {
    let (code, out, _) = run(&["--help"]).await;
    assert_eq!(code, 0);
    for sub in ["serve", "check-config", "audit"] {
        assert!(out.contains(sub), "{sub} missing from\n{out}");
    }
}

async fn redirect_origin(opts: Opts) -> String {
    let s = Server::start(opts.args(&["--http-redirect-listen", "127.0.0.1:0"])).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = plain.get(format!("{}/", s.redirect.clone().unwrap())).send().await.unwrap();
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    s.kill().await;
    location
}

#[tokio::test]
async fn flags_win_over_environment_and_environment_over_file() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("mamori.toml");
    std::fs::write(&file, "public_url = \"https://file.example.lg.jp\"\n").unwrap();
    let f = file.to_str().unwrap();

    let from_file = redirect_origin(Opts::default().args(&["--config", f])).await;
    assert_eq!(from_file, "https://file.example.lg.jp/");

    let from_env =
        redirect_origin(Opts::default().args(&["--config", f]).env("MAMORI_PUBLIC_URL", "https://env.example.lg.jp"))
            .await;
    assert_eq!(from_env, "https://env.example.lg.jp/");

    let from_flag = redirect_origin(
        Opts::default()
            .args(&["--config", f, "--public-url", "https://flag.example.lg.jp"])
            .env("MAMORI_PUBLIC_URL", "https://env.example.lg.jp"),
    )
    .await;
    assert_eq!(from_flag, "https://flag.example.lg.jp/");

    // The config file can be named by the environment too.
    let via_env_config = redirect_origin(Opts::default().env("MAMORI_CONFIG", f)).await;
    assert_eq!(via_env_config, "https://file.example.lg.jp/");
}

#[tokio::test]
async fn configured_certificate_is_used_instead_of_the_self_signed_one() {
    let dir = TempDir::new().unwrap();
    // A certificate for localhost: let one server generate it, then hand a
    // copy to another as if it were the operator's own.
    let first = Server::start(Opts::default()).await;
    let crt = dir.path().join("site.crt");
    let key = dir.path().join("site.key");
    std::fs::copy(first.data_dir().join("tls/self-signed.crt"), &crt).unwrap();
    std::fs::copy(first.data_dir().join("tls/self-signed.key"), &key).unwrap();
    first.kill().await;

    let data = TempDir::new().unwrap();
    let out = run(&[
        "check-config",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--tls-cert",
        crt.to_str().unwrap(),
        "--tls-key",
        dir.path().join("missing.key").to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.0, 2, "a missing key file is refused: {}", out.2);
    assert!(out.2.contains("missing.key"), "{}", out.2);

    let s = Server::start(
        Opts::default().args(&["--tls-cert", crt.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]).trust(&crt),
    )
    .await;
    assert_eq!(s.get("/healthz").await.status(), 200, "served with the configured certificate");
    assert!(!s.data_dir().join("tls/self-signed.crt").exists(), "no self-signed certificate is generated");
    assert!(!s.logs().contains("自己署名証明書で HTTPS"), "no self-signed warning");
    s.kill().await;
}
