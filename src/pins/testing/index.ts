/** Test support for pins, imported by tests only: the contract that keeps PinStore twins alike. */
export { describePinStoreContract } from "./store-contract.ts";
