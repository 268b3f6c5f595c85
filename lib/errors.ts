/**
 * Domain errors. Framework-free: `mixins/errors.mixin.ts` maps them to Moleculer errors so that
 * moleculer-web answers with `status` and the body `{ name, message, code, type, data }`.
 */

/** The base: `type` is UPPER_SNAKE, `status` HTTP-ish, `retryable` tells job queues what to retry. */
export class DomainError extends Error {
	readonly type: string;
	readonly status: number;
	readonly retryable: boolean;
	readonly data?: Record<string, unknown>;

	constructor(
		message: string,
		opts: {
			type: string;
			status?: number;
			retryable?: boolean;
			data?: Record<string, unknown>;
		},
	) {
		super(message);
		this.name = new.target.name;
		this.type = opts.type;
		this.status = opts.status ?? 500;
		this.retryable = opts.retryable ?? false;
		this.data = opts.data;
	}
}

/** 400/422: the caller sent something we will not take. */
export class ValidationError extends DomainError {
	constructor(message: string, data?: Record<string, unknown>, type = "VALIDATION_ERROR") {
		super(message, { type, status: 422, data });
	}
}

/** 404. */
export class NotFoundError extends DomainError {
	constructor(what: string, id: string) {
		super(`${what} '${id}' was not found.`, { type: "NOT_FOUND", status: 404, data: { id } });
	}
}

/**
 * Whether `err` says the thing itself does not exist (type NOT_FOUND, local or from another node).
 * A bare 404 is not enough: Moleculer answers 404 when a *service* is unreachable too, and taking
 * that for "the video is gone" would delete a live video's files.
 */
export function isNotFound(err: unknown): boolean {
	return (err as { type?: unknown } | null)?.type === "NOT_FOUND";
}

/** 409: the request conflicts with the current state (e.g. an illegal status move). */
export class ConflictError extends DomainError {
	constructor(message: string, data?: Record<string, unknown>, type = "CONFLICT") {
		super(message, { type, status: 409, data });
	}
}

/**
 * 409 and retryable: a compare-and-set write could not land because other writers kept changing
 * the record; nothing was written, the caller may try again.
 */
export class StatusWriteConflictError extends DomainError {
	constructor(id: string, status: string, attempts: number) {
		super(
			`Video '${id}' kept changing while it was being moved to '${status}' (${attempts} tries); nothing was written, try again.`,
			{
				type: "STATUS_WRITE_CONFLICT",
				status: 409,
				retryable: true,
				data: { id, status, attempts },
			},
		);
	}
}

/** 401. */
export class UnauthorizedError extends DomainError {
	constructor(message: string, type = "UNAUTHORIZED", data?: Record<string, unknown>) {
		super(message, { type, status: 401, data });
	}
}

/** 403. */
export class ForbiddenError extends DomainError {
	constructor(message: string, type = "FORBIDDEN", data?: Record<string, unknown>) {
		super(message, { type, status: 403, data });
	}
}

/** 503 and retryable: a dependency (Redis, an RPC node, a transcoder) is not answering. */
export class UnavailableError extends DomainError {
	constructor(message: string, type = "UNAVAILABLE", data?: Record<string, unknown>) {
		super(message, { type, status: 503, retryable: true, data });
	}
}

/** A media file we refuse to process (wrong container, truncated, a playlist in disguise). */
export class MediaError extends DomainError {
	constructor(message: string, type = "UNSUPPORTED_MEDIA", data?: Record<string, unknown>) {
		super(message, { type, status: 415, retryable: false, data });
	}
}

/** Bad configuration: names the variable; the process stops at start. */
export class ConfigError extends Error {
	constructor(
		readonly variable: string,
		message: string,
	) {
		super(`Invalid configuration: ${variable} ${message}`);
		this.name = "ConfigError";
	}
}
