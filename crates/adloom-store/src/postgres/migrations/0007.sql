
-- Pins are kept as typed records (issue 15): the image is `image_url`, no
-- longer the API's nested `media`, which the HTTP layer now writes.
UPDATE objects
   SET record = ((record::jsonb - 'media')
                 || jsonb_build_object('image_url', record::jsonb #>> '{media,images,originals,url}'))::text
 WHERE kind = 'pin' AND record::jsonb ? 'media';
