"""SQL-injection strings the security tests type into every input."""

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "\" OR \"\"=\"",
    "admin'--",
    "'; DROP TABLE auth_user; --",
    "1; SELECT * FROM auth_user",
    "x' UNION SELECT username, password FROM auth_user --",
    "%' OR 'x' LIKE '%",
    "\\'; --",
    "' AND SLEEP(2) --",
    "'||(SELECT password FROM auth_user LIMIT 1)||'",
]
