"use strict";
// make bench's cold start of a Node peer: load its handler (the verifier is created, as in Lambda's INIT), decide on
// one token and print the effect. argv: handler file, token, methodArn. With a 4th argument "rss", then decide on
// one token a line from stdin (each must be allowed) and print the peak RSS ("maxrss_kib N").
const [handlerFile, token, methodArn, mode] = process.argv.slice(2);
const { handler } = require(handlerFile);

async function decide(bearer) {
  const event = { type: "TOKEN", authorizationToken: `Bearer ${bearer}`, methodArn };
  return (await handler(event)).policyDocument.Statement[0].Effect;
}

async function main() {
  console.log(await decide(token));
  if (mode === "rss") {
    const lines = require("node:fs").readFileSync(0, "utf8").split("\n");
    for (const line of lines) {
      if (line && (await decide(line)) !== "Allow") throw new Error("a warm token was not allowed");
    }
    console.log(`maxrss_kib ${process.resourceUsage().maxRSS}`);
  }
}

main().catch((error) => {
  console.log(`error: ${error.message}`);
  process.exitCode = 1;
});
