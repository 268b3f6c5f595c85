// Keeps test runs quiet and deterministic: no stray env from the shell decides a backend.
process.env.LOGLEVEL ??= "warn";
