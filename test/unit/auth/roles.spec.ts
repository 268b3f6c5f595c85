import { can, checksumAddress, rolesFor, rolesUpTo } from "../../../lib/auth/roles";

const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const C = "0x3333333333333333333333333333333333333333";

describe("roles", () => {
	it.each([
		["admin", { adminAddresses: [A], creators: [B] }, A, ["viewer", "creator", "admin"]],
		["listed creator", { adminAddresses: [A], creators: [B] }, B, ["viewer", "creator"]],
		["anyone else", { adminAddresses: [A], creators: [B] }, C, ["viewer"]],
		[
			"CREATORS=anyone",
			{ adminAddresses: [], creators: "anyone" as const },
			C,
			["viewer", "creator"],
		],
		[
			"case-insensitive",
			{ adminAddresses: [A.toUpperCase().replace("0X", "0x")], creators: [] },
			A,
			["viewer", "creator", "admin"],
		],
	])("%s", (_name, policy, address, roles) => {
		expect(rolesFor(address, policy)).toEqual(roles);
	});

	it.each([
		[["viewer"], "viewer", true],
		[["viewer"], "creator", false],
		[["viewer", "creator"], "creator", true],
		[["viewer", "creator"], "admin", false],
		[["admin"], "creator", true],
		[[], "viewer", false],
		[["root"], "viewer", false],
		[undefined, "viewer", false],
	] as const)("can(%j, %s) = %s", (roles, need, ok) => {
		expect(can(roles as string[] | undefined, need)).toBe(ok);
	});

	it("nests roles and checksums addresses", () => {
		expect(rolesUpTo("creator")).toEqual(["viewer", "creator"]);
		expect(checksumAddress("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")).toBe(
			"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
		);
		expect(checksumAddress("apikey:0123")).toBeNull();
	});
});
