/**
 * Odoo's exceptions as they reach an RPC client: the dotted Python name (`data.name` in JSON-RPC,
 * `name` in JSON-2), the exception `args`, the XML-RPC integer fault code and the JSON-2 HTTP status.
 *
 * Verified against odoo/odoo: `odoo/exceptions.py` (UserError 422, AccessDenied/AccessError 403,
 * MissingError 404, ValidationError inherits 422; AccessDenied, AccessError, MissingError and
 * ValidationError are UserError subclasses), `addons/base/controllers/rpc.py` /
 * `addons/rpc/controllers/xmlrpc.py` (`xmlrpc_handle_exception_int`: AccessError → 4, AccessDenied → 3,
 * RedirectWarning and any other UserError → 2, anything else → 1 with the formatted traceback as
 * faultString), `odoo/http.py` (`serialize_exception`, `Json2Dispatcher.handle_error`).
 */
import { odooExceptionCode, ThreadlineError } from "../../../contracts/src/index.js";
import { pyTraceback } from "./py.js";

export const RPC_FAULT = { applicationError: 1, warning: 2, accessDenied: 3, accessError: 4 } as const;

/**
 * Any exception the simulated server raises while serving a call; its `code` is the one the connector
 * gives Odoo's exception (`odoo.exceptions.UserError` → `ODOO_USER_ERROR`).
 */
export class OdooError extends ThreadlineError {
  /** Fully qualified Python class name, e.g. `odoo.exceptions.UserError`, `builtins.ValueError`. */
  readonly pyName: string;
  /** The Python exception's `args`. */
  readonly pyArgs: unknown[];
  /** Status of a JSON-2 error response. */
  readonly httpStatus: number;
  /** XML-RPC `/xmlrpc/2` integer fault code. */
  readonly faultCode: number;
  /** A UserError family member: XML-RPC puts the message (not a traceback) in faultString. */
  readonly isUserError: boolean;

  constructor(opts: {
    pyName: string;
    message: string;
    args?: unknown[];
    httpStatus: number;
    faultCode: number;
    userError: boolean;
  }) {
    super(odooExceptionCode(opts.pyName), opts.message);
    this.pyName = opts.pyName;
    this.pyArgs = opts.args ?? [opts.message];
    this.httpStatus = opts.httpStatus;
    this.faultCode = opts.faultCode;
    this.isUserError = opts.userError;
  }

  /** The `debug` member: a Python-style traceback ending with the exception line. */
  traceback(): string {
    return pyTraceback(this.pyName, this.message);
  }

  /** XML-RPC faultString: the message for UserError and subclasses, the traceback otherwise. */
  faultString(): string {
    return this.isUserError ? this.message : this.traceback();
  }
}

const user = (pyName: string, message: string, httpStatus: number, faultCode: number) => ({
  pyName,
  message,
  httpStatus,
  faultCode,
  userError: true,
});

/** `odoo.exceptions.UserError`: business rule refused the operation. */
export class UserError extends OdooError {
  constructor(message: string, pyName = "odoo.exceptions.UserError", httpStatus = 422) {
    super(user(pyName, message, httpStatus, RPC_FAULT.warning));
  }
}

/** `odoo.exceptions.ValidationError`: a Python constraint or an IntegrityError turned into one. */
export class ValidationError extends UserError {
  constructor(message: string) {
    super(message, "odoo.exceptions.ValidationError");
  }
}

/** `odoo.exceptions.MissingError`: record(s) deleted or never existed. */
export class MissingError extends UserError {
  constructor(message: string) {
    super(message, "odoo.exceptions.MissingError", 404);
  }
}

/** `odoo.exceptions.RedirectWarning`. */
export class RedirectWarning extends OdooError {
  constructor(message: string, actionId: number, buttonText: string) {
    super({
      pyName: "odoo.exceptions.RedirectWarning",
      message,
      args: [message, actionId, buttonText, null],
      httpStatus: 422,
      faultCode: RPC_FAULT.warning,
      userError: true,
    });
  }
}

/** `odoo.exceptions.AccessError`: ACL or record rule refused access. */
export class AccessError extends OdooError {
  constructor(message: string) {
    super({ ...user("odoo.exceptions.AccessError", message, 403, RPC_FAULT.accessError) });
  }
}

/** `odoo.exceptions.AccessDenied`: bad login/password/API key (no traceback). */
export class AccessDenied extends OdooError {
  constructor(message = "Access Denied") {
    super({ ...user("odoo.exceptions.AccessDenied", message, 403, RPC_FAULT.accessDenied) });
  }

  /** Odoo suppresses AccessDenied tracebacks: only the exception line remains. */
  override traceback(): string {
    return `${this.pyName}: ${this.message}\n`;
  }
}

/** Any non-Odoo Python exception: `builtins.ValueError`, `psycopg2.errors.SerializationFailure`, … */
export class PythonError extends OdooError {
  constructor(pyName: string, message: string, args?: unknown[], httpStatus = 500) {
    super({
      pyName,
      message,
      args: args ?? [message],
      httpStatus,
      faultCode: RPC_FAULT.applicationError,
      userError: false,
    });
  }
}

export const valueError = (message: string) => new PythonError("builtins.ValueError", message);
export const typeError = (message: string) => new PythonError("builtins.TypeError", message);
export const attributeError = (message: string) => new PythonError("builtins.AttributeError", message);

/**
 * What Odoo returns after `retrying()` gave up on a concurrent-update conflict (5 tries): psycopg2's
 * exception, message with PostgreSQL's trailing newline.
 */
export class SerializationFailure extends PythonError {
  constructor() {
    super("psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update\n");
  }
}

/** A werkzeug HTTP exception (JSON-2: `arguments` = [description, code]). */
export class HttpError extends OdooError {
  constructor(
    status: number,
    pyClass: string,
    readonly description: string,
  ) {
    super({
      pyName: `werkzeug.exceptions.${pyClass}`,
      message: description,
      args: [description, status],
      httpStatus: status,
      faultCode: RPC_FAULT.applicationError,
      userError: false,
    });
  }
}

/** `odoo.http.SessionExpiredException` (web sessions; JSON-RPC code 100, JSON-2 status 403). */
export class SessionExpired extends OdooError {
  constructor(message = "Session expired") {
    super({
      pyName: "odoo.http.SessionExpiredException",
      message,
      httpStatus: 403,
      faultCode: RPC_FAULT.applicationError,
      userError: false,
    });
  }
}

/** Wraps an unexpected JavaScript error so it renders like a Python exception. */
export function asOdooError(err: unknown): OdooError {
  if (err instanceof OdooError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PythonError("builtins.Exception", message);
}
