app-name = mamori
app-tagline = システム導入に係るセキュリティ要件の確認を、ひとつの場所で。
nav-signin = ログイン
nav-home = ホーム
lang-switch = English
lang-switch-href = ?lang=en
footer-note = mamori — 情報システムのセキュリティ要件チェックリスト

home-title = mamori へようこそ
home-lead = mamori は、区が導入するすべての情報システムについて、セキュリティ要件一覧表(79項目)の回答・証跡・審査を管理し、Webサーバの技術的な項目を自動で検証するシステムです。
home-roles = 情報セキュリティ担当、所管課職員、事業者、監査の方は、割り当てられたアカウントでログインしてください。
home-signin = ログインする

error-request-id = 問い合わせ番号
error-request-id-help = お問い合わせの際は、この番号をお伝えください。
error-back-home = ホームへ戻る
error-400-title = リクエストが正しくありません
error-400 = 送信された内容を処理できませんでした。入力内容を確認して、もう一度お試しください。
error-403-title = アクセスできません
error-403 = この操作を行う権限がありません。
error-404-title = ページが見つかりません
error-404 = お探しのページは見つかりませんでした。アドレスを確認してください。
error-405-title = この操作はできません
error-405 = このページではその方法での操作を受け付けていません。
error-408-title = 時間切れです
error-408 = 処理に時間がかかりすぎたため中断しました。もう一度お試しください。
error-413-title = 送信内容が大きすぎます
error-413 = 送信されたデータが上限を超えています。ファイルの大きさを確認してください。
error-429-title = 操作が多すぎます
error-429 = 短時間に多くの操作が行われました。しばらく待ってからお試しください。
error-500-title = エラーが発生しました
error-500 = サーバで問題が発生しました。時間をおいてもう一度お試しください。解決しない場合は、下の問い合わせ番号をシステム管理者にお伝えください。
error-503-title = ただいま利用できません
error-503 = 一時的に利用できない状態です。時間をおいてもう一度お試しください。

# 共通
lang-switch-code = en
nav-label = メニュー
nav-dashboard = ダッシュボード
nav-users = アカウント
nav-ledger = ID管理簿
nav-access-review = アクセス権の見直し
nav-organisations = 組織
nav-account = マイアカウント
nav-signout = ログアウト
form-save = 保存する
export-csv = CSV (UTF-8)
export-csv-sjis = CSV (Shift_JIS)
export-xlsx = Excel

# 入力の検証
field-empty = { $field }を入力してください。
field-too-short = { $field }は{ $min }文字以上で入力してください。
field-too-long = { $field }は{ $max }文字以内で入力してください。
field-bad-characters = { $field }に使えない文字が含まれています。
field-bad-format = { $field }の形式が正しくありません。

# 項目名
field-login = ユーザID
field-login-help = (半角英小文字・数字と . _ - @、3〜64文字)
field-password = パスワード
field-current-password = 現在のパスワード
field-new-password = 新しいパスワード
field-confirm-password = 新しいパスワード(確認)
field-display-name = 氏名
field-email = メールアドレス
field-role = 役割
field-organisation = 所属組織
field-organisation-help = (所管課職員は所管課、事業者は事業者の組織を選択。その他の役割は選択しない)
field-reason = 理由
field-totp-code = 確認コード(6桁)
field-recovery-code = リカバリーコード
field-org-name = 組織名
field-org-kind = 種別
field-org-contact = 連絡先

# 役割
role-admin = システム管理者
role-security-officer = 情報セキュリティ担当
role-department = 所管課職員
role-vendor = 事業者
role-auditor = 監査
role-invalid = 役割を選択してください。
status-active = 有効
status-disabled = 無効
status-locked = ロック中

# ログイン
login-title = ログイン
login-submit = ログインする
login-failed = ユーザIDもしくはパスワードが違います
login-expired = 一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。
login-taken = このユーザIDは既に使われています。別のユーザIDを指定してください。
totp-login-title = 確認コードの入力
totp-login-lead = 認証アプリに表示されている6桁の確認コードを入力してください。
totp-failed = 確認コードが正しくありません。認証アプリの最新のコードを入力してください。
totp-use-recovery = 認証アプリを使えない場合(リカバリーコード)
totp-submit = 確認する

# 初回セットアップ
setup-title = 初回セットアップ
setup-lead = 最初のシステム管理者アカウントを作成します。このアカウントはアカウントと設定の管理専用です。審査を行う方は、別に情報セキュリティ担当のアカウントを作成してください。
setup-submit = 管理者アカウントを作成する
setup-done = 管理者アカウントを作成しました。ログインしてください。

# パスワード
password-title = パスワードの変更
password-policy = パスワードは12文字以上で、英大文字・英小文字・数字・記号のうち3種類以上を含めてください。ユーザIDを含むものと、直近5回に使ったものは使えません。
password-too-long = パスワードは128文字以内にしてください。
password-contains-login = パスワードにユーザIDを含めることはできません。
password-control = パスワードに使えない文字が含まれています。
password-reused = 直近5回に使ったパスワードは使えません。
password-mismatch = 確認のため入力したパスワードが一致しません。
password-current-wrong = 現在のパスワードが正しくありません。
password-due = パスワードの有効期限が切れているか、管理者により再設定されました。新しいパスワードを設定してください。
password-submit = 変更する
password-changed = パスワードを変更しました。

# 二要素認証
totp-enrol-title = 二要素認証の設定
totp-required = この役割のアカウントでは二要素認証が必須です。設定を完了するまで他の画面は使えません。
totp-enrol-lead = 認証アプリ(Google Authenticator、Microsoft Authenticator など)で下の QR コードを読み取るか、キーを入力し、表示された6桁のコードを入力してください。
totp-secret-label = キー:
totp-confirm = 設定を完了する
totp-codes-title = リカバリーコード
totp-codes-lead = 認証アプリを使えなくなったときのためのコードです。各コードは1回だけ使えます。この画面は二度と表示されません。印刷するなどして安全な場所に保管してください。
totp-codes-done = 保管しました
totp-already = 二要素認証は設定済みです。

# ダッシュボードとマイアカウント
dashboard-title = ダッシュボード
dashboard-welcome = { $name } さん、ようこそ。
dashboard-coming = チェックリスト(システム・回答・審査)の画面は準備中です。
account-title = マイアカウント
account-previous-signin = 前回のログイン
account-password-changed = パスワード変更日時
account-totp = 二要素認証
account-totp-on = 設定済み
account-totp-off = 未設定
account-totp-enrol = 設定する

# アカウント管理
users-title = アカウント一覧
users-new = アカウントを発行する
users-edit = アカウントを変更する
users-last-signin = 最終ログイン
users-status = 状態
users-initial-password-help = 初期パスワードを設定してください。本人は初回ログイン時に自分のパスワードへ変更します。
users-created = アカウントを発行しました。
users-saved = アカウントを変更しました。役割または所属が変わった場合、本人のログイン中のセッションは終了しました。
users-disable = 無効にする
users-enable = 有効にする
users-unlock = ロックを解除する
users-reset-password = パスワードを再設定する
users-reset-totp = 二要素認証をリセットする
users-disabled = アカウントを無効にしました。
users-enabled = アカウントを有効にしました。
users-unlocked = ロックを解除しました。
users-password-reset = パスワードを再設定しました。本人は次回ログイン時に変更します。
users-totp-reset = 二要素認証をリセットしました。本人は次回ログイン時に再設定します。
users-not-self = 自分自身のアカウントに対しては、この操作はできません。
organisation-invalid = 所属組織を一覧から選択してください。
organisation-need-vendor = 事業者のアカウントには、種別が「事業者」の組織を選択してください。
organisation-need-department = 所管課職員のアカウントには、種別が「所管課」の組織を選択してください。
organisation-none-for-role = この役割のアカウントには所属組織を選択しないでください。

# 組織
orgs-title = 組織
orgs-new = 組織を登録する
orgs-created = 組織を登録しました。
org-kind-department = 所管課
org-kind-vendor = 事業者
org-kind-invalid = 種別を選択してください。
org-name-taken = この組織名は既に登録されています。

# ID管理簿
ledger-title = ID管理簿
ledger-lead = アカウントの発行・変更・無効化などを、日時・実施者・理由とともに記録しています。
ledger-file = ID管理簿
ledger-at = 日時
ledger-change = 変更内容
ledger-before = 変更前
ledger-after = 変更後
ledger-actor = 実施者
ledger-change-issued = 発行
ledger-change-role = 役割の変更
ledger-change-organisation = 所属の変更
ledger-change-display_name = 氏名の変更
ledger-change-email = メールアドレスの変更
ledger-change-disabled = 無効化
ledger-change-enabled = 有効化
ledger-change-password_reset = パスワード再設定
ledger-change-totp_reset = 二要素認証のリセット

# アクセス権の見直し
review-title = アクセス権の見直し
review-lead = すべてのアカウントの役割・所属・最終ログインを確認し、不要なアカウントを無効にしたうえで、見直しの完了を記録してください。
review-inactive-help = 色付きの行は { $days } 日以上ログインしていないアカウントです。
review-sign = 見直しの完了を記録する
review-comment = 所見
review-submit = 記録する
review-signed = アクセス権の見直しを記録しました。
review-history = 見直しの記録
review-at = 実施日時
review-reviewer = 実施者
review-accounts = 対象アカウント数
