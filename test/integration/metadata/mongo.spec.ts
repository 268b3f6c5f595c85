/**
 * The metadata contract over MongoDB (moleculer-db-adapter-mongoose), when MONGO_URI names a
 * server. Each suite gets its own database, dropped afterwards. Without MONGO_URI this file prints
 * one line and skips (or fails, when STREAMGATE_REQUIRE names mongo).
 */
import { createTestBroker } from "../../helpers/broker";
import { describeIf, requireOrSkip } from "../../helpers/env";
import { describeMetadataContract } from "./contract";

const run = requireOrSkip("mongoose contract tests", "mongo");

/** MONGO_URI with its database replaced by a fresh one for this suite. */
function freshDatabaseUri(): string {
	const u = new URL(process.env.MONGO_URI!);
	u.pathname = `/sgtest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
	return u.toString();
}

describeMetadataContract(
	"mongodb",
	async () => {
		const uri = freshDatabaseUri();
		const t = await createTestBroker({ services: ["metadata"], env: { MONGO_URI: uri } });
		return {
			broker: t.broker,
			async cleanup() {
				await t.stop();
				const mongoose = require("mongoose");
				const conn = await mongoose
					.createConnection(uri, { serverSelectionTimeoutMS: 5000 })
					.asPromise();
				try {
					await conn.dropDatabase();
				} finally {
					await conn.close();
				}
			},
		};
	},
	describeIf(run),
	{ prefix: false }, // $text matches whole (stemmed) words
);
