/**
 * Synthetic videos for benchmarks and demos: public, ready records with varied titles,
 * descriptions, tags, owners and times, written straight into the embedded store in batched
 * transactions. Deterministic (record n is the same on every run), ids `seed-<n>`, so seeding
 * again only adds what is missing. Framework-free.
 */
import type { OpenedDatabase } from "./sqlite";

const WORDS = `
harbour sunset mountain river city night market street forest ocean desert island village
bridge tower garden kitchen studio concert festival parade storm rain snow winter summer spring
autumn morning evening dawn dusk lake valley canyon glacier volcano beach cliff meadow road
train station airport subway tram bicycle skate surf climb hike run swim dance paint cook bake
grill brew coffee tea bread pasta noodle curry salad soup cake chocolate cheese wine beer
guitar piano drums violin choir jazz blues rock techno opera vinyl radio podcast lecture
tutorial review unboxing interview documentary timelapse drone aerial macro slowmotion
portrait landscape wildlife birds whales horses dogs cats insects flowers trees mushrooms
stars moon planets rocket satellite telescope robot circuit keyboard laptop phone camera lens
tripod lighting editing colour grading sound mixing microphone podcasting streaming gaming
chess football tennis basketball cycling marathon yoga boxing fencing rowing sailing kayak
fishing camping picnic roadtrip backpacking travel diary vlog family wedding birthday holiday
museum gallery library cathedral temple castle palace ruins fortress lighthouse harbourfront
workshop woodwork pottery knitting sewing welding gardening farming harvest vineyard orchard
bakery brewery distillery factory warehouse shipyard crane container freight cargo tanker
ferry yacht canoe paddle anchor compass map journey expedition arctic tropical jungle savanna
prairie tundra reef coral lagoon delta estuary waterfall spring geyser cave crystal mineral
fossil dinosaur history ancient medieval modern future retro vintage classic minimal urban
rural coastal alpine nordic mediterranean andean himalayan saharan amazonian pacific atlantic
golden silver crimson azure emerald amber violet scarlet ivory obsidian quiet loud gentle wild
calm bright dark misty foggy sunny windy frozen blazing hidden secret lost found first last
`
	.trim()
	.split(/\s+/);

const TAGS = `
travel food music nature city sport tech science art history film diy education gaming
comedy news fitness cooking animals space cars design fashion photography architecture
books dance theatre kids family outdoors ocean mountains winter summer tutorial review
vlog live documentary timelapse drone 4k hdr shorts podcast interview lecture concert
festival culture language maths physics chemistry biology astronomy geology weather climate
energy robotics coding ai hardware audio video editing animation illustration painting
sculpture ceramics woodworking gardening farming baking coffee wine beer travelvlog citywalk
hiking cycling running swimming yoga climbing sailing surfing skiing skating football tennis
`
	.trim()
	.split(/\s+/);

/** A small fast deterministic PRNG (mulberry32). */
function rng(seed: number) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export const SEED_OWNERS = 2000;
const EPOCH = Date.UTC(2023, 0, 1);

/** The owner address of synthetic owner `k`. */
export function seedOwner(k: number): string {
	return `0x${(0x5eed0000 + k).toString(16).padStart(40, "0")}`;
}

/** Synthetic video number `n` (the same for the same n). */
export function seedVideo(n: number) {
	const r = rng(n * 2654435761 + 17);
	const pick = <T>(list: T[]) => list[Math.floor(r() * list.length)]!;
	const words = (k: number) => Array.from({ length: k }, () => pick(WORDS));
	const title = words(3 + Math.floor(r() * 5)).join(" ");
	const tags = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(TAGS)))];
	// about one video a minute for years; n increases with time, a little jitter
	const createdAt = EPOCH + n * 60_000 + Math.floor(r() * 30_000);
	const duration = Math.round((5 + r() * 3600) * 10) / 10;
	return {
		_id: `seed-${n}`,
		owner: seedOwner(Math.floor(r() * SEED_OWNERS)),
		title: title[0]!.toUpperCase() + title.slice(1),
		description: `${words(12 + Math.floor(r() * 20)).join(" ")}.`,
		tags,
		status: "ready",
		access: { kind: "public" },
		duration,
		width: 1920,
		height: 1080,
		size: Math.floor(duration * 500_000),
		renditions: [
			{ name: "1080p", width: 1920, height: 1080, bitrate: 5_000_000 },
			{ name: "720p", width: 1280, height: 720, bitrate: 2_800_000 },
			{ name: "360p", width: 640, height: 360, bitrate: 800_000 },
		],
		transcodedBy: "seed",
		encoder: "libx264",
		attempts: 1,
		error: null,
		createdAt,
		updatedAt: createdAt + 600_000,
	};
}

/** The search vocabulary and tags the seed uses (for benchmarks that query it). */
export const SEED_WORDS: readonly string[] = WORDS;
export const SEED_TAGS: readonly string[] = TAGS;

/**
 * Makes sure `count` seed videos exist (`seed-0` … `seed-<count-1>`), adding the missing ones
 * in transactions of `batch`. Resolves how many were added.
 */
export function seedVideos(
	h: OpenedDatabase,
	opts: { count: number; batch?: number; onProgress?: (done: number) => void },
): number {
	const have = h.prepare("SELECT count(*) AS n FROM videos WHERE id GLOB 'seed-*'").get() as {
		n: number;
	};
	const insert = h.prepare("INSERT OR IGNORE INTO videos (id, doc) VALUES (?, ?)");
	const batch = opts.batch ?? 10_000;
	let added = 0;
	for (let start = Number(have.n); start < opts.count; start += batch) {
		const end = Math.min(opts.count, start + batch);
		h.transaction(() => {
			for (let n = start; n < end; n++) {
				const { _id, ...doc } = seedVideo(n);
				added += Number(insert.run(_id, JSON.stringify(doc)).changes);
			}
		});
		opts.onProgress?.(end);
	}
	return added;
}
