/**
 * The 1-based line of the first Go template action in a manifest (`{{ .Values.image.tag }}`), if
 * it holds one: an opening `{{` with a closing `}}` after it. Linear in the text, whatever it holds.
 */
export function helmTemplateLine(text: string): number | undefined {
  const open = text.indexOf("{{");
  if (open === -1 || text.indexOf("}}", open + 2) === -1) return undefined;
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < open; i = text.indexOf("\n", i + 1)) line += 1;
  return line;
}
