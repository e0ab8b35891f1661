export { Rerunner } from "./rerun.ts";
