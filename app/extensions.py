"""The extension singletons, created bare here and bound to the app in create_app."""

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy

from app.auth.ratelimit import rate_limit_key
from app.core.database import RequestSession
from app.core.openapi import ProblemApi
from app.models.base import Base

# create_savepoint: a session bound to a connection already in a transaction (the tests'
# rolled-back one) commits to savepoints; with a plain engine, as in production, it changes nothing.
# expire_on_commit=False: what a view just wrote is serialised without reloading it.
# RequestSession: GET and HEAD requests read in autocommit (app/core/database.py).
db = SQLAlchemy(
    model_class=Base,
    session_options={
        "class_": RequestSession,
        "join_transaction_mode": "create_savepoint",
        "expire_on_commit": False,
    },
)
api = ProblemApi()
jwt = JWTManager()
limiter = Limiter(key_func=rate_limit_key)
cors = CORS()
