// The bench-only login role of variant b: BYPASSRLS, inheriting the visitor's grants (bench/setup.ts).
export const BYPASS_ROLE = "prospectflow_bench_rls_bypass";
