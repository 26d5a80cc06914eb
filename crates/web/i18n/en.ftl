app-name = mamori
app-tagline = The security requirements checklist for every system, in one place.
nav-signin = Sign in
nav-home = Home
lang-switch = 日本語
lang-switch-href = ?lang=ja
footer-note = mamori — security requirements checklist for information systems

home-title = Welcome to mamori
home-lead = mamori keeps the security requirements checklist (79 items) for every system the ward procures: vendors' answers, evidence and the security office's review, with automatic verification of the technical web items.
home-roles = Security officers, department staff, vendors and auditors: sign in with the account issued to you.
home-signin = Sign in

error-request-id = Request ID
error-request-id-help = Please quote this ID when you contact us.
error-back-home = Back to home
error-400-title = Bad request
error-400 = The request could not be processed. Check what you entered and try again.
error-403-title = Access denied
error-403 = You do not have permission for this operation.
error-404-title = Page not found
error-404 = The page you are looking for was not found. Check the address.
error-405-title = Operation not allowed
error-405 = This page does not accept that kind of request.
error-408-title = Timed out
error-408 = The request took too long and was stopped. Please try again.
error-413-title = Too large
error-413 = The data sent exceeds the limit. Check the size of the file.
error-429-title = Too many requests
error-429 = Too many requests in a short time. Please wait a moment and try again.
error-500-title = Something went wrong
error-500 = The server met a problem. Please try again later. If it persists, give the request ID below to your administrator.
error-503-title = Temporarily unavailable
error-503 = The service is temporarily unavailable. Please try again later.
