"""CLI: ``jingyan users add|list|disable|enable|passwd`` and ``jingyan tokens create``.

Passwords come from ``JINGYAN_PASSWORD`` or are asked for without echo; they are never printed.
Every change is written to the audit log as action ``user`` by user ``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from service.auth import accounts, audit
from service.auth import schema as auth_schema
from service.config import Settings
from service.library.db import connect
from service.library.library import database_path

CLI_USER = "cli"


def _open(args: argparse.Namespace):
    settings = Settings.from_env()
    if args.data:
        settings.data_dir = Path(args.data)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    conn = connect(database_path(settings))
    auth_schema.migrate(conn)
    return conn


def _password(prompt_twice: bool = True) -> str:
    password = os.environ.get("JINGYAN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise accounts.AccountError("请通过环境变量 JINGYAN_PASSWORD 提供密码，或在终端中运行以便输入密码")
    password = getpass.getpass("密码：")
    if prompt_twice and getpass.getpass("再次输入密码：") != password:
        raise accounts.AccountError("两次输入的密码不一致")
    return password


def _run(action) -> int:
    try:
        action()
    except accounts.AccountError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


def _add(args: argparse.Namespace) -> int:
    def action() -> None:
        conn = _open(args)
        user = accounts.add_user(conn, args.name, args.role, _password(), args.email)
        audit.record(conn, CLI_USER, "user", user.name, f"创建账号，角色 {user.role}")
        print(f"已创建用户 {user.name}（{accounts.ROLE_LABELS[user.role]}）")

    return _run(action)


def _list(args: argparse.Namespace) -> int:
    conn = _open(args)
    users = accounts.list_users(conn)
    if not users:
        print("尚无账号。创建第一个管理员：jingyan users add 用户名 --role admin")
    for u in users:
        state = "已停用" if u.disabled else "正常"
        print(f"{u.name}\t{u.role}\t{accounts.ROLE_LABELS[u.role]}\t{state}\t{u.email or ''}")
    return 0


def _disable(args: argparse.Namespace, disabled: bool) -> int:
    def action() -> None:
        conn = _open(args)
        user = accounts.set_disabled(conn, args.name, disabled)
        audit.record(conn, CLI_USER, "user", user.name, "停用账号" if disabled else "启用账号")
        print(f"已{'停用' if disabled else '启用'}用户 {user.name}")

    return _run(action)


def _passwd(args: argparse.Namespace) -> int:
    def action() -> None:
        conn = _open(args)
        if accounts.find_user(conn, args.name) is None:
            raise accounts.AccountError(f"没有用户 {args.name}")
        user = accounts.set_password(conn, args.name, _password())
        audit.record(conn, CLI_USER, "user", user.name, "重设密码")
        print(f"已为用户 {user.name} 设置新密码，其已登录的会话全部失效")

    return _run(action)


def _token(args: argparse.Namespace) -> int:
    def action() -> None:
        conn = _open(args)
        token = accounts.create_token(conn, args.name)
        audit.record(conn, CLI_USER, "user", args.name, "创建 API 令牌")
        print(token)
        print(f"这是用户 {args.name} 的新 API 令牌，只显示这一次，请妥善保存；"
              "调用 API 时使用请求头 Authorization: Bearer <令牌>", file=sys.stderr)

    return _run(action)


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="账号管理：添加、列出、停用、重设密码")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="添加用户（密码取自 JINGYAN_PASSWORD，未设置时提示输入）")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("admin", "clerk", "staff"),
                     help="admin 管理员 / clerk 材料管理员 / staff 工作人员")
    add.add_argument("--email", default=None, help="本人邮箱（订阅发往本人邮箱时无需确认）")
    add.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    add.set_defaults(func=_add)
    listing = users_sub.add_parser("list", help="列出用户")
    listing.add_argument("--data", default=None)
    listing.set_defaults(func=_list)
    for name, disabled, text in (("disable", True, "停用用户（立即退出登录，令牌失效）"), ("enable", False, "重新启用用户")):
        p = users_sub.add_parser(name, help=text)
        p.add_argument("name")
        p.add_argument("--data", default=None)
        p.set_defaults(func=lambda a, d=disabled: _disable(a, d))
    passwd = users_sub.add_parser("passwd", help="重设密码（密码取自 JINGYAN_PASSWORD，未设置时提示输入）")
    passwd.add_argument("name")
    passwd.add_argument("--data", default=None)
    passwd.set_defaults(func=_passwd)

    tokens = sub.add_parser("tokens", help="API 令牌")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    create = tokens_sub.add_parser("create", help="为用户创建 API 令牌（只显示一次）")
    create.add_argument("name", help="用户名")
    create.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    create.set_defaults(func=_token)
