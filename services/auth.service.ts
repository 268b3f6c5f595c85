/**
 * auth: Sign-In with Ethereum, JWTs, API keys and access decisions. They arrive with the wallet
 * sign-in work; until then this service has no actions and the gateway has no signed-in users.
 */
import type { ServiceSchema } from "moleculer";
import { ErrorsMixin } from "../mixins/errors.mixin";

const AuthService: ServiceSchema = {
	name: "auth",
	mixins: [ErrorsMixin],
	created() {
		this.logger.info("auth: no sign-in configured yet (every caller is anonymous)");
	},
};

export default AuthService;
