export * from "./cost";
export { formatUsd } from "../catalog/format";
