export {
  defaultNodeName,
  startAgent,
  type AgentOptions,
  type AgentParts,
  type RunningAgent,
} from "./agent.ts";
