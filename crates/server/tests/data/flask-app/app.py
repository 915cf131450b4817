"""A tiny Flask app of the kind Wristband replaces: users in SQLite through Flask-SQLAlchemy,
passwords hashed with Werkzeug's generate_password_hash, the login kept in Flask's signed
session. make_fixture.py fills its database and exports the users for `wristband user import`.

Run it (after `pip install` as in README.md):  FLASK_APP=app.py flask run
"""

import os

from flask import Flask, redirect, render_template_string, request, session, url_for
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash, generate_password_hash

HERE = os.path.dirname(os.path.abspath(__file__))

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "dev-only-not-secret")
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
    "FLASK_DATABASE_URI", "sqlite:///" + os.path.join(HERE, "flask.db")
)
db = SQLAlchemy(app)


class User(db.Model):
    __tablename__ = "user"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), unique=True, nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)

    def set_password(self, password, method=None):
        # Werkzeug's defaults unless a method is given, as most Flask tutorials do it.
        if method is None:
            self.password_hash = generate_password_hash(password)
        else:
            self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)


FORM = """<form method="post">
  <input name="username"> <input name="password" type="password"> <button>Go</button>
</form><p>{{ message }}</p>"""


@app.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "POST":
        user = User(username=request.form["username"])
        user.set_password(request.form["password"])
        db.session.add(user)
        db.session.commit()
        return redirect(url_for("login"))
    return render_template_string(FORM, message="Register")


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        user = User.query.filter_by(username=request.form["username"]).first()
        if user is not None and user.check_password(request.form["password"]):
            session["user_id"] = user.id
            return redirect(url_for("dashboard"))
        return render_template_string(FORM, message="Invalid username or password."), 401
    return render_template_string(FORM, message="Log in")


@app.route("/dashboard")
def dashboard():
    user = db.session.get(User, session.get("user_id", -1))
    if user is None:
        return redirect(url_for("login"))
    return render_template_string("Welcome, {{ name }}!", name=user.username)


@app.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("login"))
