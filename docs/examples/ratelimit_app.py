"""Rate limits: routes limited per client address and per user, and a login
throttled per account and per client address."""

from kettle import Form
from kettle import Kettle
from kettle import request
from kettle.ratelimit import RateLimited
from kettle.ratelimit import client_address
from kettle.ratelimit import get_limiter
from kettle.ratelimit import rate_limit

app = Kettle()  # RATELIMIT_BACKEND = "memory" unless the settings say "redis"


@app.get("/search")
@rate_limit("30/minute")  # per client address
def search(q: str = ""):
    return {"q": q, "results": []}


@app.post("/comments")
@rate_limit("5/minute", key="user")  # per logged-in user; anonymous: per address
@rate_limit("100/day", key="user")  # both apply
async def comment(text: str = Form()):
    return {"posted": text}, 201


# -- a login throttled per account and per client address ---------------------------

PASSWORDS = {"ann": "a long passphrase"}  # stands in for the users' table
PER_ACCOUNT = "5/15m"  # 5 failures, then one more try every 3 minutes
PER_ADDRESS = "20/hour"  # one address trying many accounts


@app.post("/login")
def login(username: str = Form(), password: str = Form()):
    limiter = get_limiter(app)
    account = username.strip().lower()
    address = client_address(request)
    # Refused before the password is even checked while either is locked out.
    for name, key, rate in (
        ("login.account", account, PER_ACCOUNT),
        ("login.address", address, PER_ADDRESS),
    ):
        verdict = limiter.peek(name, key, rate)
        if not verdict.allowed:
            raise RateLimited(verdict)  # 429 with Retry-After
    if PASSWORDS.get(account) != password:
        limiter.hit("login.account", account, PER_ACCOUNT)  # failures count
        limiter.hit("login.address", address, PER_ADDRESS)
        return {"error": "Wrong username or password."}, 401
    limiter.reset("login.account", account)  # a success forgives the account
    return {"welcome": account}
