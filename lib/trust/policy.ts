/**
 * Who may call what, in one table a reviewer can read. Default deny: an action not listed here
 * (a new internal action, Moleculer's `$node.*`) needs a service or operator credential.
 *
 * - public: anyone, including a caller with no credential (the answer may still depend on who
 *   the verified caller is: `metadata.show` hides private videos, `auth.checkAccess` decides).
 * - user: any verified caller; the handler decides further (owner or admin).
 * - admin: admin users, operators, the cluster's services.
 * - service: the cluster's services and operators only.
 */
import type { TrustLevel } from "./principal";

export type ActionPolicy = TrustLevel | "public";

export const ACTION_POLICY: Readonly<Record<string, ActionPolicy>> = {
	// moleculer-web runs each HTTP request through its own `api.rest` action.
	"api.rest": "public",
	"api.openapi": "public",
	"monitor.health": "public",
	"monitor.ready": "public",
	"auth.nonce": "public",
	"auth.login": "public",
	"auth.refresh": "public",
	"auth.logout": "public",
	"auth.verifyToken": "public",
	"auth.checkAccess": "public",
	"metadata.search": "public",
	"metadata.show": "public",
	"streaming.sign": "public",
	"streaming.verify": "public",
	"live.list": "public",
	// issue 15: names, views, embeds
	"auth.profile": "public",
	"auth.profiles": "public",
	"metadata.view": "public",
	"api.oembed": "public",

	"auth.me": "user",
	"metadata.update": "user",
	"metadata.remove": "user",
	"auth.updateProfile": "user",
	// live streams: the handlers check creator / owner (services/live.service.ts)
	"live.create": "user",
	"live.get": "user",
	"live.rotateKey": "user",
	"live.end": "user",

	"auth.createApiKey": "admin",
	"auth.listApiKeys": "admin",
	"auth.revokeApiKey": "admin",
	"metadata.counts": "admin",
	"worker.jobs": "admin",
	"worker.retry": "admin",
	"worker.orphans": "admin",
	"worker.cleanOrphans": "admin",
	"monitor.nodes": "admin",
	"monitor.alerts": "admin",
	"monitor.audit": "admin",
	"live.streams": "admin",
};

/** The level an action needs: the table's, else `service`. */
export function actionPolicy(name: string): ActionPolicy {
	return ACTION_POLICY[name] ?? "service";
}

/**
 * The level an event handler needs. Broker-internal events (`$…`, raised locally) pass; every
 * other event must carry a credential only a cluster node can make — a principal signed with the
 * cluster secret (a service's own, or a user's that a gateway verified) or an operator token.
 */
export function eventPolicy(name: string): TrustLevel | null {
	return name.startsWith("$") ? null : "user";
}
