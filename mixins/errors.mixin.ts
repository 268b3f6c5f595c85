/**
 * Maps lib/ DomainErrors to Moleculer errors in one place, so moleculer-web answers with the
 * right HTTP status and `{ name, message, code, type, data }`, and retry logic sees `retryable`.
 */
import { Errors, ServiceSchema } from "moleculer";
import { DomainError } from "../lib/errors";

/** Converts any thrown value into a Moleculer error. */
export function toMoleculerError(err: unknown): Error {
	if (err instanceof DomainError) {
		return err.retryable
			? new Errors.MoleculerRetryableError(err.message, err.status, err.type, err.data)
			: new Errors.MoleculerClientError(err.message, err.status, err.type, err.data);
	}
	return err as Error;
}

export const ErrorsMixin: Partial<ServiceSchema> = {
	hooks: {
		error: {
			"*"(_ctx: unknown, err: unknown) {
				throw toMoleculerError(err);
			},
		},
	},
};

export default ErrorsMixin;
