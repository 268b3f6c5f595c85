/**
 * `this.audit(ctx, entry)`: one structured log line per write, and an `audit.recorded` event that
 * the monitor service stores for `GET /api/v1/audit`.
 */
import type { Context, ServiceSchema } from "moleculer";
import type { AuditAction } from "../lib/monitor/metrics";

export interface AuditEntry {
	/** one of AUDIT_ACTIONS (lib/monitor/metrics.ts), which the metrics export at zero */
	action: AuditAction;
	target: string;
	result: "ok" | "denied" | "error";
	data?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
	actor: string;
	requestId: string | null;
	/** The client's address as the gateway worked it out (TRUST_PROXY rules); null off HTTP. */
	ip?: string | null;
	nodeId: string;
	at: number;
}

/**
 * Who did it: the caller the Trust middleware verified (a wallet address, an API key's address,
 * `operator:<name>` or `service:<node>`), else "anonymous". Nothing a caller merely claims.
 */
export function actorOf(ctx: Context<any, any>): string {
	const user = (ctx.meta as any)?.user;
	return typeof user?.address === "string" ? user.address : "anonymous";
}

export const AuditMixin: Partial<ServiceSchema> = {
	methods: {
		audit(this: any, ctx: Context<any, any>, entry: AuditEntry): void {
			const rec: AuditRecord = {
				...entry,
				actor: actorOf(ctx),
				requestId: ctx.requestID ?? null,
				ip: typeof ctx.meta?.ip === "string" ? ctx.meta.ip : null,
				nodeId: this.broker.nodeID,
				at: Date.now(),
			};
			this.logger.info(`[req ${rec.requestId}] audit ${JSON.stringify(rec)}`);
			// A balanced event: exactly one monitor instance stores it.
			this.broker.emit("audit.recorded", rec).catch?.(() => {});
		},
	},
};

export default AuditMixin;
