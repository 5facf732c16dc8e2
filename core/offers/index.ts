export * from "./offer";
export * from "./select";
