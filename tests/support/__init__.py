"""What the tests share: the dialog harnesses for Telegram and MAX, Telegram's rules (used by
the harness and by the e2e stand-in), the admin's, the organisation's and the applicant's steps,
the concurrency helpers."""
