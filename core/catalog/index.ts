export * from "./catalog";
export * from "./gpu-names";
export * from "./format";
export * from "./schema";
