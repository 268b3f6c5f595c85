/**
 * Callers for in-process test brokers: `ctx.meta.user` is never believed (the Trust middleware
 * re-derives it), so a test that calls an action as someone signs that someone with the test
 * cluster secret, exactly as a gateway does after checking a token.
 */
import { createPrincipalSigner, type VerifiedPrincipal } from "../../lib/trust/principal";
import { TEST_CLUSTER_SECRET } from "./env";

const signer = createPrincipalSigner({ secret: TEST_CLUSTER_SECRET, nodeId: "test-gateway" });

export interface TestCaller {
	address: string;
	roles: string[];
	kind?: VerifiedPrincipal["kind"];
	keyId?: string;
}

/** Call options acting as `user` (verified, as after a gateway's check), or anonymous for null. */
export function asCaller(user: TestCaller | null): { meta: Record<string, unknown> } {
	return {
		meta: { principal: user ? signer.sign({ kind: "jwt", ...user }) : null },
	};
}

/** Just the meta of `asCaller(user)`. */
export function callerMeta(user: TestCaller | null): Record<string, unknown> {
	return asCaller(user).meta;
}
