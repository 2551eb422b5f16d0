"""What the tests share: the dialog harnesses for Telegram and MAX, the admin's, the
organisation's and the applicant's steps, the concurrency helpers."""
